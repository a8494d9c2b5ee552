package io.ringformer.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class CodecTest {

    private static final Generation GENERATION = new Generation(2, List.of("w0", "w2"),
            List.of("aeron:udp?endpoint=10.0.0.1:40123", "aeron:udp?endpoint=10.0.0.3:40777"),
            List.of("b0:/dev/shm/r/exchange", ""), 2, 120,
            List.of(new Shard(0, 7), new Shard(7, 6)), "tok", false);

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    @Timeout(10)
    void generationRoundTripsAndItsJsonIsSnakeCase() {
        byte[] bytes = GENERATION.encode();
        assertEquals(GENERATION, Generation.decode(bytes));
        assertEquals("{\"number\":2,\"members\":[\"w0\",\"w2\"],\"endpoints\":[\"aeron:udp?endpoint=10.0.0.1:40123\","
                + "\"aeron:udp?endpoint=10.0.0.3:40777\"],\"shared_memory\":[\"b0:/dev/shm/r/exchange\",\"\"],"
                + "\"world_size\":2,\"start_step\":120,\"plan\":[{\"first\":0,"
                + "\"count\":7},{\"first\":7,\"count\":6}],\"job_token\":\"tok\",\"paused\":false}",
                new String(bytes, StandardCharsets.UTF_8));
        assertEquals(1, GENERATION.rankOf("w2"));
        assertEquals(-1, GENERATION.rankOf("w1"));
        assertEquals(13, GENERATION.globalBatch());
        assertEquals(new Shard(7, 6), GENERATION.shard(1));
        assertEquals(List.of(List.of(0), List.of(1)), GENERATION.sharedMemoryGroups());
    }

    @Test
    @Timeout(10)
    void membersSharingMemoryAreGroupedInRankOrderAndAMemberWithoutIsAloneInItsGroup() {
        Generation generation = new Generation(1, List.of("a", "b", "c", "d", "e"), List.of("e0", "e1", "e2", "e3",
                "e4"), List.of("h1", "h0", "h1", "", ""), 5, 0, List.of(new Shard(0, 1), new Shard(1, 1),
                new Shard(2, 1), new Shard(3, 1), new Shard(4, 1)), "tok", false);
        assertEquals(List.of(List.of(0, 2), List.of(1), List.of(3), List.of(4)), generation.sharedMemoryGroups());
    }

    @Test
    @Timeout(10)
    void badGenerationBytesSayWhatIsWrong() {
        assertMessage(() -> Generation.decode(new byte[0]), "cannot decode generation: no bytes");
        assertMessage(() -> Generation.decode(new byte[] {(byte) 0xff, 0x00, 0x12}),
                "cannot decode generation from 3 bytes ('\\xff\\x00\\x12')");
        assertMessage(() -> Generation.decode(utf8("{\"number\":1}")),
                "cannot decode generation from 12 bytes ('{\"number\":1}'): missing field 'members'");
        String wrongSize = new String(GENERATION.encode(), StandardCharsets.UTF_8)
                .replace("\"world_size\":2", "\"world_size\":3");
        assertMessage(() -> Generation.decode(utf8(wrongSize)), "world_size 3 but 2 members");
        String gap = new String(GENERATION.encode(), StandardCharsets.UTF_8).replace("{\"first\":7", "{\"first\":8");
        assertMessage(() -> Generation.decode(utf8(gap)), "shard of rank 1 starts at row 8, expected 7");
        String twice = new String(GENERATION.encode(), StandardCharsets.UTF_8).replace("\"w2\"", "\"w0\"");
        assertMessage(() -> Generation.decode(utf8(twice)), "lists a member twice");
    }

    @Test
    @Timeout(10)
    void workerInfoRoundTripsWithALowerCaseState() {
        WorkerInfo info = new WorkerInfo("node7", "aeron:udp?endpoint=10.0.0.7:40123", "cpu", "",
                WorkerInfo.State.JOINING, "tok");
        String json = new String(info.encode(), StandardCharsets.UTF_8);
        assertEquals("{\"host\":\"node7\",\"endpoint\":\"aeron:udp?endpoint=10.0.0.7:40123\",\"device\":\"cpu\","
                + "\"shared_memory\":\"\",\"state\":\"joining\",\"job_token\":\"tok\"}", json);
        assertEquals(info, WorkerInfo.decode(info.encode()));
        assertEquals(WorkerInfo.State.TRAINING, WorkerInfo.decode(info.withState(WorkerInfo.State.TRAINING).encode())
                .state());
        assertMessage(() -> WorkerInfo.decode(utf8(json.replace("joining", "asleep"))),
                "unknown worker state 'asleep'; expected one of [joining, syncing, training, leaving]");
        assertMessage(() -> WorkerInfo.decode(utf8("{\"host\":\"x\"}")), "cannot decode worker info");
    }

    @Test
    @Timeout(10)
    void jobStatusRoundTripsIncludingNaNLoss() {
        JobStatus started = JobStatus.started();
        JobStatus back = JobStatus.decode(started.encode());
        assertEquals(JobStatus.State.RUNNING, back.state());
        assertEquals(-1, back.lastStep());
        assertTrue(Double.isNaN(back.lastLoss()));
        JobStatus later = started.withStep(41, 2.31, 31200).withCheckpoint("runs/x/checkpoints/step-00000040")
                .withState(JobStatus.State.FINISHED, "done");
        assertEquals(later, JobStatus.decode(later.encode()));
        String json = new String(later.encode(), StandardCharsets.UTF_8);
        assertTrue(json.matches("\\{\"state\":\"finished\",\"last_step\":41,\"last_loss\":2.31,"
                + "\"items_per_second\":31200.0,\"last_checkpoint\":\"runs/x/checkpoints/step-00000040\","
                + "\"detail\":\"done\",\"last_event\":\"20\\d\\d-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ finished: done\"}"),
                json);
        assertTrue(later.ended());
    }

    @Test
    @Timeout(10)
    void jobSpecCarriesTheConfigAndItsHashAndIsValidated() {
        JobSpec spec = JobSpec.of("tok", 12, 2, 4, 500, "train:\n  batch_size: 12\n");
        assertEquals(spec, JobSpec.decode(spec.encode()));
        assertEquals(JobSpec.sha256("train:\n  batch_size: 12\n"), spec.configSha256());
        assertEquals(64, spec.configSha256().length());
        assertMessage(() -> JobSpec.of("tok", 12, 3, 2, 0, ""), "need 1 ≤ min_workers ≤ max_workers");
        assertMessage(() -> JobSpec.of("tok", 3, 1, 4, 0, ""), "max_workers 4 exceeds the global batch 3");
        assertMessage(() -> JobSpec.of(" ", 12, 1, 4, 0, ""), "job_token must not be empty");
        String tampered = new String(spec.encode(), StandardCharsets.UTF_8).replace("batch_size: 12", "batch_size: 13");
        assertMessage(() -> JobSpec.decode(utf8(tampered)), "is not the SHA-256 of config_yaml");
    }

    @Test
    @Timeout(10)
    void checkpointManifestRoundTrips() {
        CheckpointManifest manifest = new CheckpointManifest(250, "runs/gpt/checkpoints/step-00000250", 4, "abc",
                Map.of("params.bin", "e3b0", "optimizer.bin", "99aa"));
        assertEquals(manifest, CheckpointManifest.decode(manifest.encode()));
        assertTrue(new String(manifest.encode(), StandardCharsets.UTF_8)
                .contains("\"files\":{\"optimizer.bin\":\"99aa\",\"params.bin\":\"e3b0\"}"));
    }

    private static void assertMessage(Runnable action, String expected) {
        RuntimeException e = assertThrows(RuntimeException.class, action::run);
        assertTrue(e.getMessage().contains(expected), () -> "expected '" + expected + "' in: " + e.getMessage());
    }
}

package io.ringformer.worker.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.worker.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointStoreTest {

    @TempDir
    Path run;
    Path tokenizer;

    @BeforeEach
    void tokenizerFile() throws Exception {
        tokenizer = Files.writeString(Files.createDirectories(run.resolve("source")).resolve("tokenizer.txt"),
                "ringformer-char-tokenizer 1\n97\n98\n");
    }

    static Trainer.State state(long step) {
        float[] p = new float[1000];
        float[] m = new float[1000];
        float[] v = new float[1000];
        for (int i = 0; i < p.length; i++) {
            p[i] = (float) Math.sin(step + i);
            m[i] = i * 1e-3f;
            v[i] = Float.MIN_VALUE * i;
        }
        return new Trainer.State(step, p, m, v, step, 32768.0, 17);
    }

    @Test
    void roundTripsExactlyAndKeepsTheNewest() {
        CheckpointStore store = new CheckpointStore(run, 2);
        for (long step : new long[] {10, 20, 30}) {
            store.write(state(step), "model:\n  n_layer: 2\n", tokenizer, Map.of("loss", 1.5));
        }
        assertEquals(List.of("step-00000030", "step-00000020"),
                store.checkpoints().stream().map(p -> p.getFileName().toString()).toList());
        Checkpoint loaded = store.latestValid(w -> { });
        Trainer.State expected = state(30);
        assertArrayEquals(expected.params(), loaded.state().params());
        assertArrayEquals(expected.firstMoment(), loaded.state().firstMoment());
        assertArrayEquals(expected.secondMoment(), loaded.state().secondMoment());
        assertEquals(30, loaded.state().optimizerSteps());
        assertEquals(32768.0, loaded.state().lossScale());
        assertEquals(17, loaded.state().cleanSteps());
        assertEquals("model:\n  n_layer: 2\n", loaded.configYaml());
        assertEquals(1.5, ((Number) loaded.info().get("loss")).doubleValue());
        assertNull(CheckpointStore.verify(loaded.directory()));
    }

    @Test
    void aCorruptedNewestFallsBackToThePreviousAndSaysSo() throws Exception {
        CheckpointStore store = new CheckpointStore(run, 3);
        store.write(state(10), "a: 1\n", tokenizer, Map.of());
        Path newest = store.write(state(20), "a: 1\n", tokenizer, Map.of());
        byte[] bytes = Files.readAllBytes(newest.resolve(CheckpointStore.PARAMS));
        bytes[100] ^= 1;                                                      // one flipped bit
        Files.write(newest.resolve(CheckpointStore.PARAMS), bytes);
        List<String> warnings = new ArrayList<>();
        Checkpoint loaded = store.latestValid(warnings::add);
        assertEquals(10, loaded.step());
        assertTrue(warnings.get(0).contains("step-00000020") && warnings.get(0).contains("SHA-256"),
                warnings.toString());
        assertTrue(warnings.get(1).contains("step-00000010"), warnings.toString());
    }

    @Test
    void aTruncatedFileIsNamedAndNoValidCheckpointIsAnError() throws Exception {
        CheckpointStore store = new CheckpointStore(run, 3);
        Path only = store.write(state(10), "a: 1\n", tokenizer, Map.of());
        byte[] bytes = Files.readAllBytes(only.resolve(CheckpointStore.OPTIMIZER));
        Files.write(only.resolve(CheckpointStore.OPTIMIZER), java.util.Arrays.copyOf(bytes, bytes.length / 2));
        assertTrue(CheckpointStore.verify(only).contains("optimizer.bin") && CheckpointStore.verify(only)
                .contains("truncated"), CheckpointStore.verify(only));
        CheckpointException e = assertThrows(CheckpointException.class, () -> store.latestValid(w -> { }));
        assertTrue(e.getMessage().contains("no valid checkpoint"), e.getMessage());
    }

    @Test
    void anInterruptedWriteIsInvisible() throws Exception {
        CheckpointStore store = new CheckpointStore(run, 3);
        store.write(state(10), "a: 1\n", tokenizer, Map.of());
        Path partial = Files.createDirectories(store.directory().resolve(".step-00000020.tmp-123"));
        Files.writeString(partial.resolve(CheckpointStore.PARAMS), "half");
        Path unnamed = Files.createDirectories(store.directory().resolve("step-00000030"));   // no manifest
        List<String> warnings = new ArrayList<>();
        assertEquals(10, store.latestValid(warnings::add).step());
        assertTrue(warnings.get(0).contains("manifest.json is missing"), warnings.toString());
        assertEquals(2, store.checkpoints().size(), "the temporary directory is not a checkpoint");
        assertTrue(Files.exists(unnamed));
    }

    /** A re-save of a step replaces it; one that fails half-way leaves the old copy valid, and nothing hidden. */
    @Test
    void reSavingAStepReplacesItAndAFailedReSaveKeepsTheOldCopy() throws Exception {
        CheckpointStore store = new CheckpointStore(run, 3);
        store.write(state(4), "a: 1\n", tokenizer, Map.of());
        Trainer.State again = state(4);
        again.params()[0] = 42f;
        store.write(again, "a: 1\n", tokenizer, Map.of());
        assertEquals(42f, store.latestValid(w -> { }).state().params()[0]);
        assertThrows(java.io.UncheckedIOException.class,
                () -> store.write(state(4), "a: 1\n", run.resolve("missing").resolve("tokenizer.txt"), Map.of()));
        assertEquals(42f, store.latestValid(w -> { }).state().params()[0], "the old copy is intact");
        assertEquals(List.of("step-00000004"), names(store.directory()));
    }

    /** Hidden directories an interrupted write left are removed by the next store's first write. */
    @Test
    void leftoversOfInterruptedWritesAreRemoved() throws Exception {
        Path checkpoints = Files.createDirectories(run.resolve("checkpoints"));
        Files.writeString(Files.createDirectories(checkpoints.resolve(".step-00000004.tmp-abc")).resolve("x"), "x");
        Files.createDirectories(checkpoints.resolve(".step-00000002.old-def"));
        new CheckpointStore(run, 3).write(state(8), "a: 1\n", tokenizer, Map.of());
        assertEquals(List.of("step-00000008"), names(checkpoints));
    }

    /** Checkpoint directories get the permissions any directory the process creates gets (the umask), not 0700. */
    @Test
    void directoriesFollowTheUmask() throws Exception {
        Path written = new CheckpointStore(run, 3).write(state(1), "a: 1\n", tokenizer, Map.of());
        var expected = Files.getPosixFilePermissions(Files.createDirectory(run.resolve("plain")));
        assertEquals(expected, Files.getPosixFilePermissions(written));
        assertEquals(expected, Files.getPosixFilePermissions(written.getParent()));
    }

    private static List<String> names(Path directory) throws Exception {
        try (var entries = Files.list(directory)) {
            return entries.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}

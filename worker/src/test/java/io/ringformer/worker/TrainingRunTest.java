package io.ringformer.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.ringformer.worker.checkpoint.CheckpointException;
import io.ringformer.worker.exchange.LocalExchange;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingRunTest {

    static TrainConfig config(int maxIters) {
        return config(maxIters, "model.dropout=0.1");
    }

    static TrainConfig config(int maxIters, String... extra) {
        List<String> settings = new java.util.ArrayList<>(List.of("data.path=" + RealText.mobyDick(),
                "train.max_iters=" + maxIters, "checkpoint.interval=4", "eval.interval=4", "log.interval=1"));
        settings.addAll(List.of(extra));
        return TrainerTest.tiny(settings.toArray(String[]::new));
    }

    /** step → loss, from metrics.jsonl. */
    static Map<Long, Double> losses(Path run) {
        return MetricsFile.losses(run.resolve("metrics.jsonl"));
    }

    /** SameDiff with dropout (masks from (seed, step)), and the fused backend (no dropout). */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"model.dropout=0.1", "model.backend=fused"})
    void anInterruptedAndResumedRunLogsBitIdenticalLosses(String setting, @TempDir Path dir) throws Exception {
        Path straight = dir.resolve("straight");
        List<String> log = new java.util.ArrayList<>();
        new TrainingRun(config(10, setting), straight, new TrainingRun.Listener() { }, log::add).run(false,
                new LocalExchange());
        assertTrue(log.stream().anyMatch(line -> line.startsWith("model backend: "
                + (setting.contains("fused") ? "fused" : "samediff"))), log.toString());

        Path interrupted = dir.resolve("interrupted");
        new TrainingRun(config(5, setting), interrupted, new TrainingRun.Listener() { }, s -> { }).run(false,
                new LocalExchange());                                   // stops after step 5: checkpoint at 5
        TrainingRun.Outcome resumed = new TrainingRun(config(10, setting), interrupted, new TrainingRun.Listener() { },
                s -> { }).run(true, new LocalExchange());
        assertEquals(10, resumed.steps());
        Map<Long, Double> expected = losses(straight);
        Map<Long, Double> actual = losses(interrupted);
        assertEquals(10, expected.size());
        for (long step = 1; step <= 10; step++) {
            assertEquals(expected.get(step), actual.get(step), 0.0, "loss at step " + step);
        }
        String last = String.format("checkpoints/step-%08d", 10);
        org.junit.jupiter.api.Assertions.assertArrayEquals(
                io.ringformer.worker.checkpoint.CheckpointStore.load(straight.resolve(last)).state().params(),
                io.ringformer.worker.checkpoint.CheckpointStore.load(interrupted.resolve(last)).state().params());
    }

    @Test
    void theSameSeedGeneratesTheSameTextFromACheckpoint(@TempDir Path dir) {
        new TrainingRun(config(4), dir, new TrainingRun.Listener() { }, s -> { }).run(false, new LocalExchange());
        TrainedModel model = TrainedModel.load(dir, s -> { });
        assertEquals(4, model.checkpoint().step());
        String first = model.generate("Call me", 40, 0.8, 5, 3);
        assertEquals(40, first.length());
        assertEquals(first, TrainedModel.load(dir, s -> { }).generate("Call me", 40, 0.8, 5, 3));
        assertTrue(!first.equals(model.generate("Call me", 40, 0.8, 5, 4)), "another seed, another text");
        assertTrue(Double.isFinite(model.evaluate(2).get("loss")));
    }

    @Test
    void aRunDirectoryWithCheckpointsNeedsResume(@TempDir Path dir) {
        new TrainingRun(config(4), dir, new TrainingRun.Listener() { }, s -> { }).run(false, new LocalExchange());
        ConfigException e = assertThrows(ConfigException.class,
                () -> new TrainingRun(config(4), dir, new TrainingRun.Listener() { }, s -> { })
                        .run(false, new LocalExchange()));
        assertTrue(e.getMessage().contains("--resume"), e.getMessage());
        ConfigException shape = assertThrows(ConfigException.class,
                () -> new TrainingRun(TrainConfig.override(config(8), List.of("model.n_embd=48")), dir,
                        new TrainingRun.Listener() { }, s -> { }).run(true, new LocalExchange()));
        assertTrue(shape.getMessage().contains("model.n_embd 32 → 48"), shape.getMessage());
    }

    /**
     * The resume guard: changes of what a step computes are refused, naming each with old and new value; harmless
     * ones pass with a line each; --force passes and says so; another data file is refused by its fingerprint.
     */
    @Test
    void resumeRefusesChangesOfTheRunsArithmeticAndLetsHarmlessOnesThrough(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("run");
        new TrainingRun(config(4), run, new TrainingRun.Listener() { }, s -> { }).run(false, new LocalExchange());
        ConfigException refused = assertThrows(ConfigException.class, () -> new TrainingRun(TrainConfig.override(
                config(8), List.of("train.seed=7", "optim.lr=0.5", "train.batch_size=6")), run,
                new TrainingRun.Listener() { }, s -> { }).run(true, new LocalExchange()));
        for (String change : List.of("train.seed 1337 → 7", "optim.lr", "→ 0.5", "train.batch_size", "--force")) {
            assertTrue(refused.getMessage().contains(change), refused.getMessage());
        }

        java.util.List<String> lines = new java.util.ArrayList<>();
        new TrainingRun(TrainConfig.override(config(6), List.of("eval.iters=3", "exchange.wire=bf16")), run,
                new TrainingRun.Listener() { }, lines::add).run(true, new LocalExchange());
        assertTrue(lines.stream().anyMatch(l -> l.contains("eval.iters 2 → 3")), String.valueOf(lines));
        assertTrue(lines.stream().anyMatch(l -> l.contains("exchange.wire fp32 → bf16")), String.valueOf(lines));

        lines.clear();
        new TrainingRun(TrainConfig.override(config(8), List.of("train.seed=7")), run,
                new TrainingRun.Listener() { }, lines::add).run(true, true, new LocalExchange());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("resume --force") && l.contains("train.seed")),
                String.valueOf(lines));

        Path otherText = dir.resolve("other.txt");
        Files.writeString(otherText, Files.readString(RealText.mobyDick()).substring(0, 200_000));
        ConfigException data = assertThrows(ConfigException.class, () -> new TrainingRun(TrainConfig.override(
                config(12), List.of("train.seed=7", "data.path=" + otherText)), run,
                new TrainingRun.Listener() { }, s -> { }).run(true, new LocalExchange()));
        assertTrue(data.getMessage().contains("data.path content"), data.getMessage());
    }

    /** Resuming from step 4 after a run that logged to step 6 keeps one history in metrics.jsonl. */
    @Test
    void resumeCutsMetricsBackToTheCheckpointsStep(@TempDir Path dir) throws Exception {
        new TrainingRun(config(4), dir, new TrainingRun.Listener() { }, s -> { }).run(false, new LocalExchange());
        Files.writeString(dir.resolve("metrics.jsonl"), "{\"step\":5,\"loss\":9.0}\n{\"step\":6,\"lo",
                java.nio.file.StandardOpenOption.APPEND);              // steps past the checkpoint, a torn line
        new TrainingRun(config(6), dir, new TrainingRun.Listener() { }, s -> { }).run(true, new LocalExchange());
        Map<Long, Double> losses = losses(dir);
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L), List.copyOf(losses.keySet()));
        assertTrue(losses.get(5L) != 9.0, "the stale step-5 record is gone");
    }
}

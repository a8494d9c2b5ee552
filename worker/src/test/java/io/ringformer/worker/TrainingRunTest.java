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
        return TrainerTest.tiny("data.path=" + RealText.mobyDick(), "train.max_iters=" + maxIters,
                "checkpoint.interval=4", "eval.interval=4", "log.interval=1", "model.dropout=0.1");
    }

    /** step → loss, from metrics.jsonl. */
    static Map<Long, Double> losses(Path run) throws Exception {
        Map<Long, Double> losses = new LinkedHashMap<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            Map<?, ?> record = json.readValue(line, Map.class);
            if (record.containsKey("loss")) {
                losses.put(((Number) record.get("step")).longValue(), ((Number) record.get("loss")).doubleValue());
            }
        }
        return losses;
    }

    @Test
    void anInterruptedAndResumedRunLogsBitIdenticalLosses(@TempDir Path dir) throws Exception {
        Path straight = dir.resolve("straight");
        new TrainingRun(config(10), straight, new TrainingRun.Listener() { }, s -> { }).run(false, new LocalExchange());

        Path interrupted = dir.resolve("interrupted");
        new TrainingRun(config(5), interrupted, new TrainingRun.Listener() { }, s -> { }).run(false,
                new LocalExchange());                                   // stops after step 5: checkpoint at 5
        TrainingRun.Outcome resumed = new TrainingRun(config(10), interrupted, new TrainingRun.Listener() { },
                s -> { }).run(true, new LocalExchange());
        assertEquals(10, resumed.steps());
        Map<Long, Double> expected = losses(straight);
        Map<Long, Double> actual = losses(interrupted);
        assertEquals(10, expected.size());
        for (long step = 1; step <= 10; step++) {
            assertEquals(expected.get(step), actual.get(step), 0.0, "loss at step " + step);
        }
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
        assertTrue(Double.isFinite(model.validationLoss(2)));
    }

    @Test
    void aRunDirectoryWithCheckpointsNeedsResume(@TempDir Path dir) {
        new TrainingRun(config(4), dir, new TrainingRun.Listener() { }, s -> { }).run(false, new LocalExchange());
        ConfigException e = assertThrows(ConfigException.class,
                () -> new TrainingRun(config(4), dir, new TrainingRun.Listener() { }, s -> { })
                        .run(false, new LocalExchange()));
        assertTrue(e.getMessage().contains("--resume"), e.getMessage());
        CheckpointException shape = assertThrows(CheckpointException.class,
                () -> new TrainingRun(TrainConfig.override(config(8), List.of("model.n_embd=48")), dir,
                        new TrainingRun.Listener() { }, s -> { }).run(true, new LocalExchange()));
        assertTrue(shape.getMessage().contains("model.n_embd: 32 vs 48"), shape.getMessage());
    }
}

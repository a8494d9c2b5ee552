package io.ringformer.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.worker.exchange.GradientExchange;
import io.ringformer.worker.exchange.LocalExchange;
import io.ringformer.zoo.family.Split;
import io.ringformer.zoo.gpt.Gpt;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import io.ringformer.zoo.text.CharTokenizer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrainerTest {

    static final String TEXT = RealText.mobyDick(60_000);
    static final CharTokenizer TOKENIZER = CharTokenizer.fit(TEXT);
    static final Path TEXT_FILE = written(TEXT);

    private static Path written(String text) {
        try {
            Path file = Files.createTempFile("trainer-test", ".txt");
            file.toFile().deleteOnExit();
            return Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A small GPT that trains in well under a second a step. */
    static TrainConfig tiny(String... overrides) {
        List<String> all = new ArrayList<>(List.of("model.n_layer=2", "model.n_head=2", "model.n_embd=32",
                "model.block_size=32", "train.batch_size=8", "optim.warmup_iters=5", "optim.lr_decay_iters=100",
                "optim.lr=3e-3", "eval.iters=2", "data.path=" + TEXT_FILE));
        all.addAll(List.of(overrides));
        return TrainConfig.override(TrainConfig.defaults(), all);
    }

    static Trainer trainer(TrainConfig config) {
        return trainer(config, new LocalExchange(), message -> {});
    }

    /** A trainer of the GPT family on the first 60,000 characters of Moby Dick. */
    static Trainer trainer(TrainConfig config, GradientExchange exchange, Consumer<String> log) {
        return new Trainer(config, TOKENIZER, config.family().data(config, TOKENIZER), exchange, log);
    }

    @Test
    void accumulatedMicroBatchesGiveTheSameUpdateAsOneBatch() {
        Trainer whole = trainer(tiny());
        Trainer twice = trainer(tiny("train.grad_accum=2"));
        Trainer thrice = trainer(tiny("train.grad_accum=3")); // 8 rows as 3 + 3 + 2: uneven micro-batches
        for (int i = 0; i < 4; i++) {
            Trainer.StepResult a = whole.trainStep();
            assertEquals(a.loss(), twice.trainStep().loss(), 1e-5);
            assertEquals(a.loss(), thrice.trainStep().loss(), 1e-5);
        }
        assertTrue(maxDifference(whole.parameters(), twice.parameters()) < 1e-5);
        assertTrue(maxDifference(whole.parameters(), thrice.parameters()) < 1e-5);
    }

    @Test
    void lossFallsOnRealText() {
        Trainer trainer = trainer(tiny());
        double before = trainer.evaluateLoss(Split.VAL);
        for (int i = 0; i < 60; i++) {
            trainer.trainStep();
        }
        double after = trainer.evaluateLoss(Split.VAL);
        assertTrue(before > 4.0 && after < before - 1.0, "val loss " + before + " → " + after);
    }

    @Test
    void restoredStateContinuesBitIdentically() {
        Trainer straight = trainer(tiny("model.dropout=0.1"));
        List<Double> expected = new ArrayList<>();
        Trainer.State middle = null;
        for (int i = 0; i < 6; i++) {
            if (i == 3) {
                middle = straight.state();
            }
            expected.add(straight.trainStep().loss());
        }
        Trainer resumed = trainer(tiny("model.dropout=0.1"));
        resumed.restore(middle);
        for (int i = 3; i < 6; i++) {
            assertEquals(expected.get(i), resumed.trainStep().loss(), 0.0, "step " + i);
        }
        assertArrayEquals(straight.parameters(), resumed.parameters());
    }

    @Test
    void weightDecayTouchesMatricesOnly() {
        Gpt gpt = (Gpt) trainer(tiny()).model();
        assertTrue(gpt.decays("wte"));
        assertTrue(gpt.decays("h0/attn/w_qkv"));
        assertTrue(gpt.decays("h3/mlp/w_proj"));
        assertFalse(gpt.decays("wpe"));
        assertFalse(gpt.decays("h0/attn/b_qkv"));
        assertFalse(gpt.decays("h0/ln_1/gain"));
        assertFalse(gpt.decays("ln_f/bias"));
    }

    /** A comm hook that poisons one step's gradient, as an fp16 overflow would. */
    static final class OverflowAt implements GradientExchange {
        final long step;

        OverflowAt(long step) {
            this.step = step;
        }

        public int rank() {
            return 0;
        }

        public int worldSize() {
            return 1;
        }

        public void allReduce(float[] buffer, long at) {
            if (at == step) {
                buffer[7] = Float.POSITIVE_INFINITY;
            }
        }
    }

    @Test
    void anOverflowSkipsExactlyOneStepAndHalvesTheScale() {
        Trainer trainer = trainer(tiny("train.precision=fp16"), new OverflowAt(2), message -> {});
        trainer.trainStep();
        Trainer.StepResult second = trainer.trainStep();
        float[] before = trainer.parameters().clone();
        Trainer.StepResult overflow = trainer.trainStep();
        assertFalse(overflow.applied());
        assertArrayEquals(before, trainer.parameters(), "a skipped step leaves the parameters alone");
        Trainer.StepResult after = trainer.trainStep();
        assertTrue(second.applied() && after.applied());
        assertEquals(65536.0, overflow.lossScale());
        assertEquals(32768.0, after.lossScale());
    }

    static double maxDifference(float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }
}

package io.ringformer.worker.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.worker.ConfigException;
import io.ringformer.worker.RealText;
import io.ringformer.worker.TrainConfig;
import io.ringformer.worker.Trainer;
import io.ringformer.worker.exchange.LocalExchange;
import io.ringformer.zoo.data.TextDataset;
import io.ringformer.zoo.text.CharTokenizer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The trainer on either backend: the same training, and the fallback to SameDiff where fused does not reach. */
class ModelBackendTest {

    static final String TEXT = RealText.mobyDick(60_000);
    static final CharTokenizer TOKENIZER = CharTokenizer.fit(TEXT);
    static final TextDataset DATA = TextDataset.of(TEXT, TOKENIZER, 0.9);

    static TrainConfig tiny(String... overrides) {
        List<String> all = new ArrayList<>(List.of("model.n_layer=2", "model.n_head=2", "model.n_embd=32",
                "model.block_size=32", "train.batch_size=8", "optim.warmup_iters=5", "optim.lr_decay_iters=300",
                "optim.lr=3e-3", "eval.iters=4"));
        all.addAll(List.of(overrides));
        return TrainConfig.override(TrainConfig.defaults(), all);
    }

    static Trainer trainer(TrainConfig config, List<String> log) {
        return new Trainer(config, DATA, TOKENIZER.vocabSize(), new LocalExchange(), log::add);
    }

    @Test
    void fusedAndSameDiffTrainAlike() {
        for (String positions : List.of("learned", "sinusoidal", "rope", "alibi")) {
            Trainer graph = trainer(tiny("model.backend=samediff", "model.positions=" + positions), new ArrayList<>());
            Trainer fused = trainer(tiny("model.backend=fused", "model.positions=" + positions), new ArrayList<>());
            assertTrue(fused.backend().startsWith("fused fp32"), fused.backend());
            assertTrue(graph.backend().startsWith("samediff"), graph.backend());
            for (int i = 0; i < 5; i++) {
                Trainer.StepResult a = graph.trainStep();
                Trainer.StepResult b = fused.trainStep();
                assertEquals(a.loss(), b.loss(), 1e-4 * a.loss(), positions + " step " + i + " loss");
                assertEquals(a.gradNorm(), b.gradNorm(), 1e-3 * a.gradNorm(), positions + " step " + i + " norm");
            }
            assertEquals(graph.evaluate(TextDataset.Split.VAL), fused.evaluate(TextDataset.Split.VAL), 1e-3,
                    positions + " val loss");
        }
    }

    @Test
    void bf16TracksTheFp32LossCurveOnRealText() {
        // Over 300 steps the two runs see the same batches; bf16 rounding (8-bit mantissa in the GEMM operands)
        // perturbs every step a little, so the curves may wander apart by a few hundredths of a nat but no more:
        // compare 50-step means, where batch noise averages out, within 0.05 nats (about 2% of the loss there).
        Trainer fp32 = trainer(tiny("train.precision=fp32"), new ArrayList<>());
        Trainer bf16 = trainer(tiny("train.precision=bf16"), new ArrayList<>());
        assertTrue(bf16.backend().startsWith("fused bf16"), bf16.backend());
        double[] sum32 = new double[6];
        double[] sum16 = new double[6];
        for (int i = 0; i < 300; i++) {
            sum32[i / 50] += fp32.trainStep().loss() / 50;
            sum16[i / 50] += bf16.trainStep().loss() / 50;
        }
        for (int window = 0; window < 6; window++) {
            assertEquals(sum32[window], sum16[window], 0.05, "mean loss of steps " + 50 * window + "–"
                    + (50 * window + 49));
        }
        assertTrue(sum32[5] < sum32[0] - 0.5, "fp32 learned: " + sum32[0] + " → " + sum32[5]);
        assertEquals(fp32.evaluate(TextDataset.Split.VAL), bf16.evaluate(TextDataset.Split.VAL), 0.05, "val loss");
    }

    @Test
    void whatFusedDoesNotCoverTrainsOnSameDiffAndSaysSo() {
        List<String> log = new ArrayList<>();
        Trainer dropout = trainer(tiny("model.dropout=0.1"), log);
        assertTrue(dropout.backend().startsWith("samediff"), dropout.backend());
        assertEquals(1, log.size(), log::toString);
        assertTrue(log.get(0).contains("dropout") && log.get(0).contains("SameDiff"), log.get(0));

        log.clear();
        Trainer fp16 = trainer(tiny("train.precision=fp16"), log);
        assertEquals("samediff fp16", fp16.backend());
        assertTrue(log.get(0).contains("fp16"), log.get(0));
    }

    @Test
    void anUnknownBackendIsAConfigError() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> trainer(tiny("model.backend=cuda"), new ArrayList<>()));
        assertTrue(e.getMessage().contains("model.backend") && e.getMessage().contains("samediff"), e.getMessage());
    }
}

package io.ringformer.zoo.attention.custom;

import static io.ringformer.zoo.GradientCheck.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.GradientCheck;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.attention.Attention;
import io.ringformer.zoo.attention.AttentionInputs;
import io.ringformer.zoo.attention.AttentionMasks;
import io.ringformer.zoo.attention.AttentionTypes;
import io.ringformer.zoo.attention.PositionType;
import io.ringformer.zoo.attention.ScaledDotProductAttention;
import io.ringformer.zoo.gpt.Gpt;
import java.util.HashMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The template test of docs/custom-attention.md: a loop-by-loop reference, finite differences, the type reached by
 * name from a config, and a property of the type (here: at initialisation it is full attention). B 2, H 3, T 6, dh
 * 4, causal.
 */
class TalkingHeadsAttentionTest {

    static final int B = 2, H = 3, T = 6, DH = 4;

    /** The attention's graph on q, k, v and its own parameters {@code mixing} (null: as declared, the identity). */
    static ScaledDotProductAttention.Output attend(SameDiff sd, Attention attention, DataType type,
                                                   Map<String, INDArray> mixing) {
        Map<String, SDVariable> own = new HashMap<>();
        AttentionInputs in = new AttentionInputs(sd.var("q", uniform(1, type, B, H, T, DH)),
                sd.var("k", uniform(2, type, B, H, T, DH)), sd.var("v", uniform(3, type, B, H, T, DH)),
                sd.constant(Nd4j.createFromArray(AttentionMasks.causal(T, T)).castTo(type)), null, true, T, T, H, DH,
                UnaryOperator.identity(), MixedPrecision.FP32, null,
                suffix -> own.computeIfAbsent(suffix, name -> sd.var(name, mixing == null
                        ? Nd4j.eye(H).castTo(type) : mixing.get(name))));
        return attention.attend(sd, "layer", in);
    }

    @Test
    void atInitialisationItIsFullAttention() {
        INDArray talking = attend(SameDiff.create(), new TalkingHeadsAttention(), DataType.FLOAT, null).values()
                .eval();
        INDArray full = attend(SameDiff.create(), AttentionTypes.full(), DataType.FLOAT, null).values().eval();
        assertTrue(talking.equalsWithEps(full, 1e-6), "identity mixing differs from full attention");
    }

    @Test
    void equalsItsDefinitionInALoopReference() {
        Map<String, INDArray> mixing = Map.of("talk_logits", uniform(4, DataType.FLOAT, H, H),
                "talk_weights", uniform(5, DataType.FLOAT, H, H));
        SameDiff sd = SameDiff.create();
        INDArray values = attend(sd, new TalkingHeadsAttention(), DataType.FLOAT, mixing).values().eval();
        INDArray q = sd.getArrForVarName("q"), k = sd.getArrForVarName("k"), v = sd.getArrForVarName("v");
        INDArray pl = mixing.get("talk_logits"), pw = mixing.get("talk_weights");
        double max = 0;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                double[][] logits = new double[H][T];                       // L′[h′][s] over s ≤ t
                for (int g = 0; g < H; g++) {
                    for (int s = 0; s <= t; s++) {
                        for (int h = 0; h < H; h++) {
                            double dot = 0;
                            for (int j = 0; j < DH; j++) {
                                dot += q.getDouble(b, h, t, j) * k.getDouble(b, h, s, j);
                            }
                            logits[g][s] += dot / Math.sqrt(DH) * pl.getDouble(h, g);
                        }
                    }
                }
                double[][] weights = new double[H][T];                      // softmax over s ≤ t
                for (int g = 0; g < H; g++) {
                    double top = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int s = 0; s <= t; s++) {
                        top = Math.max(top, logits[g][s]);
                    }
                    for (int s = 0; s <= t; s++) {
                        weights[g][s] = Math.exp(logits[g][s] - top);
                        sum += weights[g][s];
                    }
                    for (int s = 0; s <= t; s++) {
                        weights[g][s] /= sum;
                    }
                }
                for (int h = 0; h < H; h++) {
                    for (int j = 0; j < DH; j++) {
                        double out = 0;
                        for (int s = 0; s <= t; s++) {
                            for (int g = 0; g < H; g++) {
                                out += weights[g][s] * pw.getDouble(g, h) * v.getDouble(b, h, s, j);
                            }
                        }
                        max = Math.max(max, Math.abs(out - values.getDouble(b, h, t, j)));
                    }
                }
            }
        }
        assertTrue(max < 1e-5, "values differ by " + max);
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        Map<String, INDArray> mixing = Map.of("talk_logits", uniform(4, DataType.DOUBLE, H, H),
                "talk_weights", uniform(5, DataType.DOUBLE, H, H));
        SameDiff sd = SameDiff.create();
        ScaledDotProductAttention.Output out = attend(sd, new TalkingHeadsAttention(), DataType.DOUBLE, mixing);
        String loss = GradientCheck.projectToScalar(sd, out.values(), 6, B, H, T, DH);
        GradientCheck.check(sd, loss, new HashMap<>(), 16, "q", "k", "v", "talk_logits", "talk_weights");
    }

    @Test
    void anyConfigReachesItByNameAndAModelDeclaresItsParametersWithoutDecay() {
        Attention byName = AttentionTypes.named("talking_heads").configure(null);
        Gpt gpt = Gpt.build(new Gpt.Config(11, 6, 2, 3, 12, 0, PositionType.LEARNED, true, byName), DataType.FLOAT,
                3, false);
        assertTrue(gpt.parameterNames().contains("h1/attn/talk_logits"), gpt.parameterNames()::toString);
        assertFalse(gpt.decays("h1/attn/talk_weights"));
        assertEquals(H * H, gpt.parameters().get("h0/attn/talk_logits").size());
    }
}

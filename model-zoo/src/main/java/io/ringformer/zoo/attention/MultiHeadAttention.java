package io.ringformer.zoo.attention;

import io.ringformer.zoo.Dropout;
import io.ringformer.zoo.Initializer;
import io.ringformer.zoo.MixedPrecision;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Multi-head attention (Vaswani et al. 2017, §3.2.2) on rows of [B·T, d]: self-attention through one fused QKV
 * projection, cross-attention through a query projection and one fused key/value projection. Heads are split by
 * a reshape and a permute, attended by the layer's {@link Attention} (by default softmax attention,
 * {@link ScaledDotProductAttention}), merged back and projected.
 *
 * <p>Every mask and position bias of a self-attention layer (causal, ALiBi) is folded into one constant before it
 * reaches the scores, so each adds a single op however many there are. Sequence lengths are fixed when the graph
 * is built; the batch dimension is free.
 */
public final class MultiHeadAttention {

    /**
     * @param width     model width d
     * @param heads     number of heads H; d must divide by H
     * @param causal    whether query t may only see keys at or before t
     * @param positions ROPE and ALIBI act here; LEARNED and SINUSOIDAL are the embeddings' business
     * @param dropout   drop probability on the attention weights while training (see {@link Dropout})
     * @param attention how queries meet keys ({@code attention.type}); {@link AttentionTypes#full()} by default
     */
    public record Spec(int width, int heads, boolean causal, PositionType positions, double dropout,
                       Attention attention) {

        public Spec(int width, int heads, boolean causal, PositionType positions, double dropout) {
            this(width, heads, causal, positions, dropout, AttentionTypes.full());
        }

        public Spec {
            if (width <= 0 || heads <= 0 || width % heads != 0) {
                throw new IllegalArgumentException("width " + width + " must be a positive multiple of heads " + heads);
            }
            if (positions == PositionType.ROPE && (width / heads) % 2 != 0) {
                throw new IllegalArgumentException("rope needs an even head width, got " + width / heads);
            }
            if (dropout < 0 || dropout >= 1) {
                throw new IllegalArgumentException("dropout must be in [0, 1), got " + dropout);
            }
            attention.check(positions, causal);
        }

        public int headDim() {
            return width / heads;
        }
    }

    /**
     * Projections of a self-attention layer: qkv [d, 3d] (+[3d]), out [d, d] (+[d]); and the parameters of its
     * attention type, if it declares any ({@link Attention#declare}), by name suffix.
     */
    public record SelfWeights(SDVariable qkv, SDVariable qkvBias, SDVariable out, SDVariable outBias,
                              Function<String, SDVariable> own) {

        public SelfWeights(SDVariable qkv, SDVariable qkvBias, SDVariable out, SDVariable outBias) {
            this(qkv, qkvBias, out, outBias, suffix -> {
                throw new IllegalArgumentException("this layer holds no attention parameter '" + suffix
                        + "': it was built from weights alone, without the attention type's declared parameters");
            });
        }

        /** GPT-2 initialisation: N(0, 0.02²), the output projection scaled by {@code outStd}. */
        public static SelfWeights create(SameDiff sd, String name, int width, Initializer init, double outStd) {
            return new SelfWeights(
                    sd.var(name + "/w_qkv", init.normal(0.02, width, 3L * width)),
                    sd.var(name + "/b_qkv", init.zeros(3L * width)),
                    sd.var(name + "/w_out", init.normal(outStd, width, width)),
                    sd.var(name + "/b_out", init.zeros(width)));
        }

        /**
         * Declares the projections {@link #create} makes, in the same order with the same initialisation, then
         * the attention type's own parameters.
         */
        public static void declare(io.ringformer.zoo.ParameterTable table, String name, Spec spec, double outStd) {
            declare(table, name, spec, 0.02, outStd);
        }

        /** As above with the input projection drawn from N(0, {@code inStd}²) (T5: the fan-in's d^-½). */
        public static void declare(io.ringformer.zoo.ParameterTable table, String name, Spec spec, double inStd,
                                   double outStd) {
            int width = spec.width();
            table.normal(name + "/w_qkv", inStd, width, 3L * width);
            table.zeros(name + "/b_qkv", 3L * width);
            table.normal(name + "/w_out", outStd, width, width);
            table.zeros(name + "/b_out", width);
            spec.attention().declare(table, name, width, spec.heads(), outStd);
        }

        /** The declared projections of layer {@code name} as graph variables. */
        public static SelfWeights of(SameDiff sd, io.ringformer.zoo.ParameterTable table, String name) {
            return new SelfWeights(table.var(sd, name + "/w_qkv"), table.var(sd, name + "/b_qkv"),
                    table.var(sd, name + "/w_out"), table.var(sd, name + "/b_out"),
                    suffix -> table.var(sd, name + "/" + suffix));
        }
    }

    /** Projections of a cross-attention layer: q [d, d], kv [dₘ, 2d], out [d, d], each with a bias. */
    public record CrossWeights(SDVariable q, SDVariable qBias, SDVariable kv, SDVariable kvBias,
                               SDVariable out, SDVariable outBias) {
        /** Declares the projections {@link #create} makes, in the same order with the same initialisation. */
        public static void declare(io.ringformer.zoo.ParameterTable table, String name, int width, int memoryWidth,
                                   double outStd) {
            declare(table, name, width, memoryWidth, 0.02, 0.02, outStd);
        }

        /**
         * As above with the query projection drawn from N(0, {@code queryStd}²) and the key/value one from
         * N(0, {@code memoryStd}²) (T5: each its fan-in's ^-½).
         */
        public static void declare(io.ringformer.zoo.ParameterTable table, String name, int width, int memoryWidth,
                                   double queryStd, double memoryStd, double outStd) {
            table.normal(name + "/w_q", queryStd, width, width);
            table.zeros(name + "/b_q", width);
            table.normal(name + "/w_kv", memoryStd, memoryWidth, 2L * width);
            table.zeros(name + "/b_kv", 2L * width);
            table.normal(name + "/w_out", outStd, width, width);
            table.zeros(name + "/b_out", width);
        }

        /** The declared projections of layer {@code name} as graph variables. */
        public static CrossWeights of(SameDiff sd, io.ringformer.zoo.ParameterTable table, String name) {
            return new CrossWeights(table.var(sd, name + "/w_q"), table.var(sd, name + "/b_q"),
                    table.var(sd, name + "/w_kv"), table.var(sd, name + "/b_kv"), table.var(sd, name + "/w_out"),
                    table.var(sd, name + "/b_out"));
        }

        public static CrossWeights create(SameDiff sd, String name, int width, int memoryWidth, Initializer init,
                                          double outStd) {
            return new CrossWeights(
                    sd.var(name + "/w_q", init.normal(0.02, width, width)),
                    sd.var(name + "/b_q", init.zeros(width)),
                    sd.var(name + "/w_kv", init.normal(0.02, memoryWidth, 2L * width)),
                    sd.var(name + "/b_kv", init.zeros(2L * width)),
                    sd.var(name + "/w_out", init.normal(outStd, width, width)),
                    sd.var(name + "/b_out", init.zeros(width)));
        }
    }

    /** The projected output rows and the attention weights. */
    public record Output(SDVariable rows, SDVariable weights) {}

    private final Spec spec;
    private final MixedPrecision precision;

    public MultiHeadAttention(Spec spec) {
        this(spec, MixedPrecision.FP32);
    }

    /** With every projection and attention matmul in {@code precision}'s compute type. */
    public MultiHeadAttention(Spec spec, MixedPrecision precision) {
        this.spec = spec;
        this.precision = precision;
    }

    public Spec spec() {
        return spec;
    }

    /**
     * @param x        [B·T, d]
     * @param keep     [B, T] padding mask (1 real, 0 pad) or null
     * @param dropout  attention dropout while training, or null
     * @return rows [B·T, d], weights [B, H, T, T]
     */
    public Output selfAttention(SameDiff sd, String name, SDVariable x, int length, SDVariable keep,
                                SelfWeights w, Dropout dropout) {
        return selfAttention(sd, name, x, length, keep, w, dropout, null);
    }

    /**
     * As above, with a bias the model adds to every score (T5's learned relative positions, one table per stack).
     *
     * @param scoreBias [1, H, T, T] or null
     */
    public Output selfAttention(SameDiff sd, String name, SDVariable x, int length, SDVariable keep,
                                SelfWeights w, Dropout dropout, SDVariable scoreBias) {
        int h = spec.heads();
        int dh = spec.headDim();
        SDVariable qkv = precision.linear(sd, null, x, w.qkv(), w.qkvBias());                             // [B·T, 3d]
        SDVariable heads = sd.permute(sd.reshape(qkv, -1, length, 3, h, dh), 2, 0, 3, 1, 4); // [3, B, H, T, dh]
        SDVariable[] split = sd.unstack(heads, 0, 3);
        SDVariable q = split[0];                                                             // [B, H, T, dh]
        SDVariable k = split[1];                                                             // [B, H, T, dh]
        SDVariable v = split[2];                                                             // [B, H, T, dh]
        if (spec.positions() == PositionType.ROPE) {
            q = RotaryPositions.apply(sd, name + "/rope_q", q, h, length, dh);
            k = RotaryPositions.apply(sd, name + "/rope_k", k, h, length, dh);
        }
        SDVariable bias = selfBias(sd, name, length, x.dataType());                           // [1|T.., T, T] or null
        if (scoreBias != null) {
            bias = bias == null ? scoreBias : bias.add(scoreBias);                           // [1, H, T, T]
        }
        if (keep != null) {
            SDVariable pad = AttentionMasks.padding(sd, keep, length);                       // [B, 1, 1, T]
            bias = bias == null ? pad : bias.add(pad);
        }
        return project(sd, name, new AttentionInputs(q, k, v, bias, keep, spec.causal(), length, length, h, dh,
                weightDropout(dropout, length, length), precision, x, w.own()), w.out(), w.outBias());
    }

    /**
     * Queries from x, keys and values from another sequence of a different length (encoder–decoder attention).
     *
     * @param x          [B·T, d]
     * @param memory     [B·S, dₘ]
     * @param memoryKeep [B, S] padding mask of the memory, or null
     * @return rows [B·T, d], weights [B, H, T, S]
     */
    public Output crossAttention(SameDiff sd, String name, SDVariable x, int length, SDVariable memory,
                                 int memoryLength, SDVariable memoryKeep, CrossWeights w, Dropout dropout) {
        return crossAttention(sd, name, x, length, memory, memoryLength, memoryKeep, w, dropout, null);
    }

    /**
     * As above, with a bias the model adds to every score (a relative position bias between query and memory
     * positions, say).
     *
     * @param scoreBias [1, H, T, S] or null
     */
    public Output crossAttention(SameDiff sd, String name, SDVariable x, int length, SDVariable memory,
                                 int memoryLength, SDVariable memoryKeep, CrossWeights w, Dropout dropout,
                                 SDVariable scoreBias) {
        int h = spec.heads();
        int dh = spec.headDim();
        SDVariable q = sd.permute(sd.reshape(precision.linear(sd, null, x, w.q(), w.qBias()), -1, length, h, dh),
                0, 2, 1, 3);                                                                  // [B, H, T, dh]
        SDVariable kv = precision.linear(sd, null, memory, w.kv(), w.kvBias());                            // [B·S, 2d]
        SDVariable[] split = sd.unstack(
                sd.permute(sd.reshape(kv, -1, memoryLength, 2, h, dh), 2, 0, 3, 1, 4), 0, 2); // 2 × [B, H, S, dh]
        SDVariable bias = memoryKeep == null ? null : AttentionMasks.padding(sd, memoryKeep, memoryLength);
        if (scoreBias != null) {
            bias = bias == null ? scoreBias : bias.add(scoreBias);                           // [B|1, H, T, S]
        }
        return project(sd, name, new AttentionInputs(q, split[0], split[1], bias, memoryKeep, false, length,
                memoryLength, h, dh, weightDropout(dropout, length, memoryLength), precision, x, suffix -> {
                    throw new IllegalArgumentException("cross-attention layers hold no attention parameters");
                }), w.out(), w.outBias());
    }

    private UnaryOperator<SDVariable> weightDropout(Dropout dropout, int length, int keyLength) {
        return weights -> dropout == null ? weights : dropout.apply(weights, 1, spec.heads(), length, keyLength);
    }

    private Output project(SameDiff sd, String name, AttentionInputs in, SDVariable out, SDVariable outBias) {
        ScaledDotProductAttention.Output attended = spec.attention().attend(sd, name, in);    // [B, H, T, dh]
        SDVariable merged = sd.reshape(sd.permute(attended.values(), 0, 2, 1, 3), -1, spec.width()); // [B·T, d]
        return new Output(precision.linear(sd, name + "/out", merged, out, outBias), attended.weights());
    }

    /** Causal mask and ALiBi folded into one constant: [T, T], [1, H, T, T], or null when neither applies. */
    private SDVariable selfBias(SameDiff sd, String name, int length, DataType type) {
        boolean alibi = spec.positions() == PositionType.ALIBI;
        if (!alibi && !spec.causal()) {
            return null;
        }
        float[][] causal = spec.causal() ? AttentionMasks.causal(length, length) : new float[length][length];
        if (!alibi) {
            return sd.constant(name + "/mask", Nd4j.createFromArray(causal).castTo(type));
        }
        float[][][] bias = AlibiBias.bias(spec.heads(), length, length);
        for (float[][] head : bias) {
            for (int t = 0; t < length; t++) {
                for (int s = 0; s < length; s++) {
                    head[t][s] += causal[t][s];
                }
            }
        }
        INDArray constant = Nd4j.createFromArray(bias).reshape(1, spec.heads(), length, length).castTo(type);
        return sd.constant(name + "/mask", constant);
    }
}

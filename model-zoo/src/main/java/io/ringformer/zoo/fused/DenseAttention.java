package io.ringformer.zoo.fused;

import java.nio.ByteBuffer;

/**
 * {@code full} attention in the fused step: the [B, H, T, T] probabilities made whole, kept per layer for the
 * backward pass, and the four attention products as batched oneDNN GEMMs over contiguous heads (its blocked
 * kernels run them faster than its gemm kernel on heads strided inside the qkv rows, and the reorders that split
 * and merge, rounding to bf16 on the way in when the step is bf16, cost ~10 µs each).
 */
public final class DenseAttention implements FusedAttention {

    private final Context c;
    private final Kernels kernels;
    private final int t;
    private final int dh;
    private final int heads;
    private final Saved[] layers;
    private final NativeBuffer dProbs;    // [B, H, T, T] gradient of the probabilities, then of the scores
    private final ByteBuffer dProbBytes;
    private final NativeBuffer dScores;   // [B, H, T, T] the scores' gradient as the GEMMs read it (bf16 copy)
    private final ByteBuffer dScoreBytes;
    private final NativeBuffer headsOut;  // [B, H, T, dh] fp32: p·v, dv, dq or dk before it goes back into rows
    private final NativeBuffer dHeads;    // [B, H, T, dh] the attention output's gradient split into heads
    private final Plan[][] plans;         // by number of sequences and layer, made on first use

    /** One layer's saved heads and probabilities. */
    private static final class Saved {
        NativeBuffer queries;             // [B, H, T, dh] q split into contiguous heads (in bf16 rounded to bf16)
        NativeBuffer keys;                // [B, H, T, dh]
        NativeBuffer values;              // [B, H, T, dh]
        NativeBuffer probs;               // [B, H, T, T]
        ByteBuffer probBytes;
        NativeBuffer probsForGemm;        // [B, H, T, T] the probabilities as the GEMMs read them (bf16 copy)
        ByteBuffer probsForGemmBytes;
    }

    private record Plan(Reorder splitQ, Reorder splitK, Reorder splitV, Matmul scores, Matmul values,
                        Reorder merge, Reorder splitDy, Matmul dProbs, Matmul dValues, Reorder mergeDv,
                        Matmul dQueries, Reorder mergeDq, Matmul dKeys, Reorder mergeDk) {}

    public DenseAttention(Context context) {
        this.c = context;
        this.kernels = context.kernels();
        this.t = context.length();
        this.dh = context.headDim();
        this.heads = context.heads();
        long n = (long) context.maxSequences() * t * context.width();
        long probabilities = (long) context.maxSequences() * heads * t * t;
        layers = new Saved[context.layers()];
        for (int l = 0; l < layers.length; l++) {
            Saved s = new Saved();
            s.queries = NativeBuffer.allocate(n, context.gemmType());
            s.keys = NativeBuffer.allocate(n, context.gemmType());
            s.values = NativeBuffer.allocate(n, context.gemmType());
            s.probs = NativeBuffer.allocate(probabilities, ElementType.F32);
            s.probBytes = s.probs.bytes();
            s.probsForGemm = context.bf16() ? NativeBuffer.allocate(probabilities, ElementType.BF16) : s.probs;
            s.probsForGemmBytes = s.probsForGemm.bytes();
            layers[l] = s;
        }
        dProbs = NativeBuffer.allocate(probabilities, ElementType.F32);
        dProbBytes = dProbs.bytes();
        dScores = context.bf16() ? NativeBuffer.allocate(probabilities, ElementType.BF16) : dProbs;
        dScoreBytes = dScores.bytes();
        headsOut = NativeBuffer.allocate(n, ElementType.F32);
        dHeads = NativeBuffer.allocate(n, context.gemmType());
        plans = new Plan[context.maxSequences() + 1][];
    }

    @Override
    public void forward(int layer, int sequences, int[] keys) {
        Plan p = plan(sequences)[layer];
        Saved s = layers[layer];
        int groups = sequences * heads;
        p.splitQ.run();                                                                       // [B, H, T, dh]
        p.splitK.run();                                                                       // [B, H, T, dh]
        p.splitV.run();                                                                       // [B, H, T, dh]
        p.scores.run();                                                                       // q·kᵀ [B, H, T, T]
        if (c.causal()) {
            kernels.causalSoftmax(s.probBytes, groups, t, heads, c.scale(), c.slopes());
        } else {
            kernels.keySoftmax(s.probBytes, groups, t, heads, c.scale(), keys);
        }
        if (c.bf16()) {
            kernels.toBf16(s.probBytes, s.probsForGemmBytes, groups * t * t);
        }
        p.values.run();                                                                       // p·v [B, H, T, dh]
        p.merge.run();                                                                        // heads → [N, d]
    }

    @Override
    public void backward(int layer, int sequences, int[] keys) {
        Plan p = plan(sequences)[layer];
        Saved s = layers[layer];
        int groups = sequences * heads;
        p.splitDy.run();                                                                      // dY [B, H, T, dh]
        p.dProbs.run();                                                                       // dP = dY·vᵀ
        p.dValues.run();                                                                      // dv = Pᵀ·dY
        p.mergeDv.run();                                                                      // → dQkv's v
        if (c.causal()) {
            kernels.causalSoftmaxBackward(s.probBytes, dProbBytes, groups, t, c.scale());
        } else {
            kernels.keySoftmaxBackward(s.probBytes, dProbBytes, groups, t, heads, c.scale(), keys);
        }
        if (c.bf16()) {
            kernels.toBf16(dProbBytes, dScoreBytes, groups * t * t);
        }
        p.dQueries.run();                                                                     // dq = dS·k
        p.mergeDq.run();                                                                      // → dQkv's q
        p.dKeys.run();                                                                        // dk = dSᵀ·q
        p.mergeDk.run();                                                                      // → dQkv's k
    }

    @Override
    public float[] map(int layer, int sequences, int[] keys) {
        float[] map = new float[sequences * heads * t * t];
        layers[layer].probBytes.asFloatBuffer().get(0, map);
        return map;
    }

    private Plan[] plan(int sequences) {
        if (plans[sequences] == null) {
            Plan[] layerPlans = new Plan[layers.length];
            for (int l = 0; l < layers.length; l++) {
                layerPlans[l] = createPlan(l, sequences);
            }
            plans[sequences] = layerPlans;
        }
        return plans[sequences];
    }

    private Plan createPlan(int layer, int b) {
        Saved s = layers[layer];
        int d = c.width();
        View q = View.contiguous(s.queries, 0, b, heads, t, dh);
        View k = View.contiguous(s.keys, 0, b, heads, t, dh);
        View v = View.contiguous(s.values, 0, b, heads, t, dh);
        View probs = View.contiguous(s.probs, 0, b, heads, t, t);
        View probsForGemm = View.contiguous(s.probsForGemm, 0, b, heads, t, t);
        View out = View.contiguous(headsOut, 0, b, heads, t, dh);
        View dY = View.contiguous(dHeads, 0, b, heads, t, dh);
        View dP = View.contiguous(dProbs, 0, b, heads, t, t);
        View dS = View.contiguous(dScores, 0, b, heads, t, t);
        NativeBuffer qkv = c.qkv()[layer];
        return new Plan(
                Reorder.of(c.heads(qkv, 0, b, 3 * d), q),
                Reorder.of(c.heads(qkv, d, b, 3 * d), k),
                Reorder.of(c.heads(qkv, 2 * d, b, 3 * d), v),
                Matmul.of(q, k.transposed(), null, probs, false),
                Matmul.of(probsForGemm, v, null, out, false),
                Reorder.of(out, c.heads(c.attended()[layer], 0, b, d)),
                Reorder.of(c.heads(c.dAttended(), 0, b, d), dY),
                Matmul.of(dY, v.transposed(), null, dP, false),
                Matmul.of(probsForGemm.transposed(), dY, null, out, false),
                Reorder.of(out, c.heads(c.dQkv(), 2 * d, b, 3 * d)),
                Matmul.of(dS, k, null, out, false),
                Reorder.of(out, c.heads(c.dQkv(), 0, b, 3 * d)),
                Matmul.of(dS.transposed(), q, null, out, false),
                Reorder.of(out, c.heads(c.dQkv(), d, b, 3 * d)));
    }
}

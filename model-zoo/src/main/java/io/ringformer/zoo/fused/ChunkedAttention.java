package io.ringformer.zoo.fused;

import java.nio.ByteBuffer;

/**
 * {@code memory_efficient} attention in the fused step: exact softmax attention computed over chunks of C keys
 * with an online softmax, as FlashAttention does (Dao et al. 2022; the backward pass as in FlashAttention-2), so
 * that no [T, T] matrix exists at any time. Per layer it keeps only the log-sum-exp of each query row.
 *
 * <pre>
 * forward, for each key chunk c (keys c0 … c0 + w):
 *   S = scale·Q·K_cᵀ + bias, masked            [B, H, rows, w]   (causal: only the rows t ≥ c0 can see the chunk)
 *   m' = max(m, rowmax S);  P = e^(S − m');  α = e^(m − m')
 *   l ← α·l + rowsum P;  O ← α·O + P·V_c;  m ← m'
 * then O ← O / l, and L = m + ln l is saved.
 *
 * backward, with D = rowsum(dO ∘ O) (= Σ_s P·dP, from the rows):
 *   for each key chunk c:  P = e^(S − L) (recomputed);  dV_c = Pᵀ·dO;  dP = dO·V_cᵀ
 *                          dS = scale·P ∘ (dP − D);  dQ += dS·K_c;  dK_c = dSᵀ·Q
 * </pre>
 *
 * Memory: the scores of one chunk, [B, H, T, C], instead of a [B, H, T, T] matrix for each layer: O(T·C) in place
 * of O(layers·T²). The products are oneDNN GEMMs on views of shared head buffers, one set per chunk (a chunk's
 * rows and keys are offsets into them), so a layer adds no plans of its own beyond the reorders into its rows.
 */
public final class ChunkedAttention implements FusedAttention {

    private final Context c;
    private final Kernels kernels;
    private final int t;
    private final int dh;
    private final int heads;
    private final int chunk;
    private final int chunks;

    // [B, H, T, dh] heads shared by all layers: the split of the layer at hand.
    private final NativeBuffer queries;    // gemm type (bf16 in bf16)
    private final NativeBuffer keys;
    private final NativeBuffer values;
    private final NativeBuffer dOut;       // the attention output's gradient, gemm type
    private final NativeBuffer out;        // fp32: O accumulated over chunks
    private final ByteBuffer outBytes;
    private final NativeBuffer dQueries;   // fp32, accumulated over chunks
    private final ByteBuffer dQueryBytes;
    private final NativeBuffer dKeys;      // fp32, one chunk of rows at a time
    private final NativeBuffer dValues;    // fp32, one chunk of rows at a time

    // [B, H, rows ≤ T, w ≤ C]: one chunk's scores, then probabilities; and their gradient.
    private final NativeBuffer scores;
    private final ByteBuffer scoreBytes;
    private final NativeBuffer scoresForGemm;    // bf16 copy in bf16
    private final ByteBuffer scoresForGemmBytes;
    private final NativeBuffer dScores;
    private final ByteBuffer dScoreBytes;
    private final NativeBuffer dScoresForGemm;
    private final ByteBuffer dScoresForGemmBytes;

    // [B, H, T] row statistics.
    private final ByteBuffer runningMax;
    private final ByteBuffer runningSum;
    private final ByteBuffer rowDots;            // D = rowsum(dO ∘ O)
    private final ByteBuffer[] logSumExp;        // per layer: L = m + ln l, saved for the backward pass
    private final ByteBuffer[] attendedBytes;    // per layer: the attended rows [N, d]
    private final ByteBuffer dAttendedBytes;

    private final Plan[] plans;                  // by number of sequences

    /** The reorders of every layer and the GEMMs of every chunk, for one number of sequences. */
    private record Plan(Reorder[] splitQ, Reorder[] splitK, Reorder[] splitV, Reorder[] merge, Reorder splitDy,
                        Reorder mergeDq, Reorder mergeDk, Reorder mergeDv, ChunkPlan[] chunks) {}

    /** Keys c0 … c0 + width of every query row from firstRow on (the rows before a causal chunk never see it). */
    private record ChunkPlan(int c0, int width, int firstRow, Matmul scores, Matmul values, Matmul dValues,
                             Matmul dProbs, Matmul dQueries, Matmul dKeys) {
        int rows(int length) {
            return length - firstRow;
        }
    }

    /** @param chunk keys per chunk, C */
    public ChunkedAttention(Context context, int chunk) {
        if (chunk < 1) {
            throw new IllegalArgumentException("a chunk holds at least one key, got " + chunk);
        }
        this.c = context;
        this.kernels = context.kernels();
        this.t = context.length();
        this.dh = context.headDim();
        this.heads = context.heads();
        this.chunk = Math.min(chunk, t);
        this.chunks = (t + this.chunk - 1) / this.chunk;
        int maxSequences = context.maxSequences();
        long headElements = (long) maxSequences * t * context.width();
        long chunkElements = (long) maxSequences * heads * t * this.chunk;
        long rowCount = (long) maxSequences * heads * t;
        queries = NativeBuffer.allocate(headElements, context.gemmType());
        keys = NativeBuffer.allocate(headElements, context.gemmType());
        values = NativeBuffer.allocate(headElements, context.gemmType());
        dOut = NativeBuffer.allocate(headElements, context.gemmType());
        out = NativeBuffer.allocate(headElements, ElementType.F32);
        outBytes = out.bytes();
        dQueries = NativeBuffer.allocate(headElements, ElementType.F32);
        dQueryBytes = dQueries.bytes();
        dKeys = NativeBuffer.allocate(headElements, ElementType.F32);
        dValues = NativeBuffer.allocate(headElements, ElementType.F32);
        scores = NativeBuffer.allocate(chunkElements, ElementType.F32);
        scoreBytes = scores.bytes();
        scoresForGemm = context.bf16() ? NativeBuffer.allocate(chunkElements, ElementType.BF16) : scores;
        scoresForGemmBytes = scoresForGemm.bytes();
        dScores = NativeBuffer.allocate(chunkElements, ElementType.F32);
        dScoreBytes = dScores.bytes();
        dScoresForGemm = context.bf16() ? NativeBuffer.allocate(chunkElements, ElementType.BF16) : dScores;
        dScoresForGemmBytes = dScoresForGemm.bytes();
        runningMax = context.floats(rowCount);
        runningSum = context.floats(rowCount);
        rowDots = context.floats(rowCount);
        logSumExp = new ByteBuffer[context.layers()];
        attendedBytes = new ByteBuffer[context.layers()];
        for (int l = 0; l < logSumExp.length; l++) {
            logSumExp[l] = context.floats(rowCount);
            attendedBytes[l] = context.attended()[l].bytes();
        }
        dAttendedBytes = context.dAttended().bytes();
        plans = new Plan[maxSequences + 1];
    }

    @Override
    public void forward(int layer, int sequences, int[] keyCounts) {
        Plan p = plan(sequences);
        p.splitQ[layer].run();                                                                // [B, H, T, dh]
        p.splitK[layer].run();
        p.splitV[layer].run();
        int rows = sequences * heads * t;
        for (int row = 0; row < rows; row++) {
            RowKernels.put(runningMax, row, Float.NEGATIVE_INFINITY);
        }
        kernels.zero(runningSum, rows);
        kernels.zero(outBytes, rows * dh);
        for (ChunkPlan chunkPlan : p.chunks) {
            chunkPlan.scores.run();                                                           // Q·K_cᵀ [B, H, r, w]
            onlineSoftmax(chunkPlan, sequences, keyCounts);                                   // P, α·O
            if (c.bf16()) {
                kernels.toBf16(scoreBytes, scoresForGemmBytes, sequences * heads * chunkPlan.rows(t) * chunkPlan.width);
            }
            chunkPlan.values.run();                                                           // O += P·V_c
        }
        ByteBuffer lse = logSumExp[layer];
        for (int row = 0; row < rows; row++) {
            float sum = RowKernels.get(runningSum, row);
            if (sum > 0f) {
                kernels.scaleRow(outBytes, row * dh, dh, 1f / sum);                          // O / l
                RowKernels.put(lse, row, RowKernels.get(runningMax, row) + (float) Math.log(sum));
            } else {
                RowKernels.put(lse, row, Float.POSITIVE_INFINITY);                           // no key: P = 0
            }
        }
        p.merge[layer].run();                                                                 // heads → [N, d]
    }

    /** One chunk's scores become e^(S − m') in place, and each row's running max, sum and output are updated. */
    private void onlineSoftmax(ChunkPlan chunkPlan, int sequences, int[] keyCounts) {
        int r = chunkPlan.rows(t);
        int w = chunkPlan.width;
        for (int group = 0; group < sequences * heads; group++) {
            float slope = c.slope(group % heads);
            int keyEnd = c.causal() || keyCounts == null ? t : keyCounts[group / heads];
            for (int i = 0; i < r; i++) {
                int query = chunkPlan.firstRow + i;
                int row = group * t + query;
                int offset = (group * r + i) * w;
                int last = (c.causal() ? query : keyEnd - 1) - chunkPlan.c0;
                float chunkMax = kernels.biasRow(scoreBytes, offset, w, last, c.scale(), slope);
                float oldMax = RowKernels.get(runningMax, row);
                float newMax = Math.max(oldMax, chunkMax);
                if (newMax == Float.NEGATIVE_INFINITY) {
                    kernels.expRow(scoreBytes, offset, w, 0f);                              // no key yet: zeros
                    continue;
                }
                float sum = kernels.expRow(scoreBytes, offset, w, newMax);
                float rescale = oldMax == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(oldMax - newMax);
                if (rescale != 1f) {
                    kernels.scaleRow(outBytes, row * dh, dh, rescale);
                }
                RowKernels.put(runningSum, row, RowKernels.get(runningSum, row) * rescale + sum);
                RowKernels.put(runningMax, row, newMax);
            }
        }
    }

    /** One chunk's scores become the probabilities e^(S − L) in place, from the layer's saved row statistics. */
    private void probabilities(ChunkPlan chunkPlan, ByteBuffer lse, int sequences, int[] keyCounts) {
        int r = chunkPlan.rows(t);
        int w = chunkPlan.width;
        for (int group = 0; group < sequences * heads; group++) {
            float slope = c.slope(group % heads);
            int keyEnd = c.causal() || keyCounts == null ? t : keyCounts[group / heads];
            for (int i = 0; i < r; i++) {
                int query = chunkPlan.firstRow + i;
                int offset = (group * r + i) * w;
                int last = (c.causal() ? query : keyEnd - 1) - chunkPlan.c0;
                kernels.biasRow(scoreBytes, offset, w, last, c.scale(), slope);
                kernels.expRow(scoreBytes, offset, w, RowKernels.get(lse, group * t + query));
            }
        }
    }

    @Override
    public void backward(int layer, int sequences, int[] keyCounts) {
        Plan p = plan(sequences);
        p.splitQ[layer].run();                                                                // recomputed heads
        p.splitK[layer].run();
        p.splitV[layer].run();
        p.splitDy.run();                                                                      // dO [B, H, T, dh]
        int d = c.width();
        ByteBuffer attended = attendedBytes[layer];
        for (int b = 0; b < sequences; b++) {
            for (int h = 0; h < heads; h++) {
                for (int query = 0; query < t; query++) {
                    int at = (b * t + query) * d + h * dh;
                    RowKernels.put(rowDots, (b * heads + h) * t + query,
                            kernels.dot(dAttendedBytes, at, attended, at, dh));              // D = dO·O
                }
            }
        }
        kernels.zero(dQueryBytes, sequences * heads * t * dh);
        for (ChunkPlan chunkPlan : p.chunks) {
            int r = chunkPlan.rows(t);
            int w = chunkPlan.width;
            int count = sequences * heads * r * w;
            chunkPlan.scores.run();                                                           // Q·K_cᵀ
            probabilities(chunkPlan, logSumExp[layer], sequences, keyCounts);                 // P
            if (c.bf16()) {
                kernels.toBf16(scoreBytes, scoresForGemmBytes, count);
            }
            chunkPlan.dValues.run();                                                          // dV_c = Pᵀ·dO
            chunkPlan.dProbs.run();                                                           // dP = dO·V_cᵀ
            for (int group = 0; group < sequences * heads; group++) {
                for (int i = 0; i < r; i++) {
                    int offset = (group * r + i) * w;
                    float rowDot = RowKernels.get(rowDots, group * t + chunkPlan.firstRow + i);
                    kernels.softmaxGradientRow(scoreBytes, dScoreBytes, offset, w, rowDot, c.scale()); // dS
                }
            }
            if (c.bf16()) {
                kernels.toBf16(dScoreBytes, dScoresForGemmBytes, count);
            }
            chunkPlan.dQueries.run();                                                         // dQ += dS·K_c
            chunkPlan.dKeys.run();                                                            // dK_c = dSᵀ·Q
        }
        p.mergeDq.run();                                                                      // → dQkv's q
        p.mergeDk.run();                                                                      // → dQkv's k
        p.mergeDv.run();                                                                      // → dQkv's v
    }

    /** Made chunk by chunk from the saved row statistics (there is no matrix to read). */
    @Override
    public float[] map(int layer, int sequences, int[] keyCounts) {
        Plan p = plan(sequences);
        p.splitQ[layer].run();
        p.splitK[layer].run();
        float[] map = new float[sequences * heads * t * t];
        for (ChunkPlan chunkPlan : p.chunks) {
            chunkPlan.scores.run();
            probabilities(chunkPlan, logSumExp[layer], sequences, keyCounts);
            int r = chunkPlan.rows(t);
            int w = chunkPlan.width;
            for (int group = 0; group < sequences * heads; group++) {
                for (int i = 0; i < r; i++) {
                    int from = (group * r + i) * w;
                    int to = (group * t + chunkPlan.firstRow + i) * t + chunkPlan.c0;
                    for (int j = 0; j < w; j++) {
                        map[to + j] = RowKernels.get(scoreBytes, from + j);
                    }
                }
            }
        }
        return map;
    }

    private Plan plan(int sequences) {
        if (plans[sequences] == null) {
            plans[sequences] = createPlan(sequences);
        }
        return plans[sequences];
    }

    private Plan createPlan(int b) {
        int d = c.width();
        int layers = c.layers();
        Reorder[] splitQ = new Reorder[layers];
        Reorder[] splitK = new Reorder[layers];
        Reorder[] splitV = new Reorder[layers];
        Reorder[] merge = new Reorder[layers];
        for (int l = 0; l < layers; l++) {
            NativeBuffer qkv = c.qkv()[l];
            splitQ[l] = Reorder.of(c.heads(qkv, 0, b, 3 * d), View.contiguous(queries, 0, b, heads, t, dh));
            splitK[l] = Reorder.of(c.heads(qkv, d, b, 3 * d), View.contiguous(keys, 0, b, heads, t, dh));
            splitV[l] = Reorder.of(c.heads(qkv, 2 * d, b, 3 * d), View.contiguous(values, 0, b, heads, t, dh));
            merge[l] = Reorder.of(View.contiguous(out, 0, b, heads, t, dh), c.heads(c.attended()[l], 0, b, d));
        }
        ChunkPlan[] chunkPlans = new ChunkPlan[chunks];
        for (int i = 0; i < chunks; i++) {
            int c0 = i * chunk;
            int width = Math.min(chunk, t - c0);
            int firstRow = c.causal() ? c0 : 0;
            int rows = t - firstRow;
            View q = headRows(queries, b, firstRow, rows);
            View k = headRows(keys, b, c0, width);
            View v = headRows(values, b, c0, width);
            View dy = headRows(dOut, b, firstRow, rows);
            View s = View.contiguous(scores, 0, b, heads, rows, width);
            View sForGemm = View.contiguous(scoresForGemm, 0, b, heads, rows, width);
            View dP = View.contiguous(dScores, 0, b, heads, rows, width);
            View dSForGemm = View.contiguous(dScoresForGemm, 0, b, heads, rows, width);
            chunkPlans[i] = new ChunkPlan(c0, width, firstRow,
                    Matmul.of(q, k.transposed(), null, s, false),
                    Matmul.of(sForGemm, v, null, headRows(out, b, firstRow, rows), true),
                    Matmul.of(sForGemm.transposed(), dy, null, headRows(dValues, b, c0, width), false),
                    Matmul.of(dy, v.transposed(), null, dP, false),
                    Matmul.of(dSForGemm, k, null, headRows(dQueries, b, firstRow, rows), true),
                    Matmul.of(dSForGemm.transposed(), q, null, headRows(dKeys, b, c0, width), false));
        }
        return new Plan(splitQ, splitK, splitV, merge,
                Reorder.of(c.heads(c.dAttended(), 0, b, d), View.contiguous(dOut, 0, b, heads, t, dh)),
                Reorder.of(View.contiguous(dQueries, 0, b, heads, t, dh), c.heads(c.dQkv(), 0, b, 3 * d)),
                Reorder.of(View.contiguous(dKeys, 0, b, heads, t, dh), c.heads(c.dQkv(), d, b, 3 * d)),
                Reorder.of(View.contiguous(dValues, 0, b, heads, t, dh), c.heads(c.dQkv(), 2 * d, b, 3 * d)),
                chunkPlans);
    }

    /** Rows first … first + count of every head of a contiguous [B, H, T, dh] buffer. */
    private View headRows(NativeBuffer buffer, int b, int first, int count) {
        return new View(buffer, (long) first * dh, new long[] {b, heads, count, dh},
                new long[] {(long) heads * t * dh, (long) t * dh, dh, 1});
    }
}

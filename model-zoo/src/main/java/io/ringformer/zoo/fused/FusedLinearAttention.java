package io.ringformer.zoo.fused;

import java.nio.FloatBuffer;

/**
 * {@code linear} attention in the fused step (Katharopoulos et al. 2020; the graph is
 * {@code zoo.attention.LinearAttention}): softmax's exp(q·k) replaced by φ(q)·φ(k), φ(x) = elu(x) + 1, and run as
 * a recurrence over a [dh, dh] state per head, so memory is O(T·dh) and time O(T·dh²): nothing is [T, T].
 *
 * <pre>
 * forward, per sequence and head:   S = Σ_s φ(k_s)·v_sᵀ [dh, dh],  z = Σ_s φ(k_s) [dh]
 *                                   (causal: over s ≤ t, a prefix sum built as t advances; else over real keys)
 *   out_t = num_t / den_t,   num_t = φ(q_t)ᵀ·S,   den_t = φ(q_t)·z + ε
 * backward, with g_t = ∂L/∂out_t:   dnum_t = g_t / den_t,   dden_t = −g_t·out_t / den_t
 *   ∂φ(q_t) = S·dnum_t + z·dden_t                          (the same sweep as forward rebuilds S and z)
 *   R = Σ_u φ(q_u)·dnum_uᵀ,  r = Σ_u φ(q_u)·dden_u         (causal: over u ≥ s, a suffix sum, the sweep reversed)
 *   ∂φ(k_s) = R·v_s + r,   ∂v_s = Rᵀ·φ(k_s);   ∂x = ∂φ(x)·φ'(x),  φ'(x) = 1 for x > 0, eˣ otherwise
 * </pre>
 *
 * It reads the layer's qkv rows and writes the attended rows directly, in fp32 also in a bf16 step (there is no
 * GEMM to round for); the backward pass keeps g/den and dden of one head at a time. No allocation per call.
 */
public final class FusedLinearAttention implements FusedAttention {

    /** The denominator's ε: as the graph's ({@code LinearAttention.EPS}). */
    static final float EPS = 1e-6f;

    private final Context c;
    private final int t;
    private final int d;
    private final int dh;
    private final int heads;
    private final FloatBuffer[] qkv;        // per layer [N, 3d]
    private final FloatBuffer[] attended;   // per layer [N, d]
    private final FloatBuffer dAttended;    // [N, d]
    private final FloatBuffer dQkv;         // [N, 3d]

    // One head's working set.
    private final float[] state;            // S or R [dh, dh], row i = key feature i
    private final float[] sum;              // z or r [dh]
    private final float[] q;                // the raw row segments, then their gradients
    private final float[] k;
    private final float[] v;
    private final float[] phiQRow;
    private final float[] phiKRow;
    private final float[] row;              // out_t, g_t, ∂φ(q_t)
    private final float[] scaled;           // [T, dh]: g_t / den_t of every t of the head
    private final float[] denGradient;      // [T]: dden_t

    public FusedLinearAttention(Context context) {
        this.c = context;
        this.t = context.length();
        this.d = context.width();
        this.dh = context.headDim();
        this.heads = context.heads();
        qkv = new FloatBuffer[context.layers()];
        attended = new FloatBuffer[context.layers()];
        for (int l = 0; l < qkv.length; l++) {
            qkv[l] = context.qkv()[l].bytes().asFloatBuffer();
            attended[l] = context.attended()[l].bytes().asFloatBuffer();
        }
        dAttended = context.dAttended().bytes().asFloatBuffer();
        dQkv = context.dQkv().bytes().asFloatBuffer();
        state = new float[dh * dh];
        sum = new float[dh];
        q = new float[dh];
        k = new float[dh];
        v = new float[dh];
        phiQRow = new float[dh];
        phiKRow = new float[dh];
        row = new float[dh];
        scaled = new float[t * dh];
        denGradient = new float[t];
    }

    @Override
    public void forward(int layer, int sequences, int[] keys) {
        FloatBuffer rows = qkv[layer];
        FloatBuffer out = attended[layer];
        for (int b = 0; b < sequences; b++) {
            int keyEnd = c.causal() || keys == null ? t : keys[b];
            for (int h = 0; h < heads; h++) {
                java.util.Arrays.fill(state, 0f);
                java.util.Arrays.fill(sum, 0f);
                if (!c.causal()) {
                    for (int s = 0; s < keyEnd; s++) {
                        addKey(rows, b, h, s);                                        // S, z over the real keys
                    }
                }
                for (int query = 0; query < t; query++) {
                    if (c.causal()) {
                        addKey(rows, b, h, query);                                    // S, z over s ≤ t
                    }
                    rows.get(qkvAt(b, query) + h * dh, q, 0, dh);
                    phi(q, phiQRow);
                    float den = EPS + dot(phiQRow, sum, 0);
                    java.util.Arrays.fill(row, 0f);
                    for (int i = 0; i < dh; i++) {
                        axpy(phiQRow[i] / den, state, i * dh, row);                  // φ(q)ᵀ·S / den
                    }
                    out.put(rowAt(b, query) + h * dh, row, 0, dh);
                }
            }
        }
    }

    /** S += φ(k_s)·v_sᵀ and z += φ(k_s), for key s of sequence b, head h. */
    private void addKey(FloatBuffer rows, int b, int h, int s) {
        rows.get(qkvAt(b, s) + d + h * dh, k, 0, dh);
        rows.get(qkvAt(b, s) + 2 * d + h * dh, v, 0, dh);
        phi(k, phiKRow);
        for (int i = 0; i < dh; i++) {
            axpy(phiKRow[i], v, 0, state, i * dh);
            sum[i] += phiKRow[i];
        }
    }

    @Override
    public void backward(int layer, int sequences, int[] keys) {
        FloatBuffer rows = qkv[layer];
        FloatBuffer out = attended[layer];
        for (int b = 0; b < sequences; b++) {
            int keyEnd = c.causal() || keys == null ? t : keys[b];
            for (int h = 0; h < heads; h++) {
                // Sweep 1, as forward: S and z again; dnum, dden and ∂q of every query.
                java.util.Arrays.fill(state, 0f);
                java.util.Arrays.fill(sum, 0f);
                if (!c.causal()) {
                    for (int s = 0; s < keyEnd; s++) {
                        addKey(rows, b, h, s);
                    }
                }
                for (int query = 0; query < t; query++) {
                    if (c.causal()) {
                        addKey(rows, b, h, query);
                    }
                    rows.get(qkvAt(b, query) + h * dh, q, 0, dh);
                    phi(q, phiQRow);
                    float den = EPS + dot(phiQRow, sum, 0);
                    dAttended.get(rowAt(b, query) + h * dh, row, 0, dh);                  // g
                    out.get(rowAt(b, query) + h * dh, v, 0, dh);                          // out (v as scratch)
                    denGradient[query] = -dot(row, v, 0) / den;                            // dden
                    for (int j = 0; j < dh; j++) {
                        scaled[query * dh + j] = row[j] / den;                             // dnum
                    }
                    for (int i = 0; i < dh; i++) {                                         // ∂φ(q) = S·dnum + z·dden
                        float dPhi = dot(scaled, query * dh, state, i * dh) + sum[i] * denGradient[query];
                        q[i] = dPhi * slope(q[i]);
                    }
                    dQkv.put(qkvAt(b, query) + h * dh, q, 0, dh);
                }
                // Sweep 2, reversed: R and r; ∂k and ∂v of every key.
                java.util.Arrays.fill(state, 0f);
                java.util.Arrays.fill(sum, 0f);
                if (!c.causal()) {
                    for (int u = 0; u < t; u++) {
                        addQuery(rows, b, h, u);                                          // R, r over all queries
                    }
                }
                for (int s = t - 1; s >= 0; s--) {
                    if (c.causal()) {
                        addQuery(rows, b, h, s);                                          // R, r over u ≥ s
                    }
                    if (s >= keyEnd) {                                                    // padding: no gradient
                        java.util.Arrays.fill(row, 0f);
                        dQkv.put(qkvAt(b, s) + d + h * dh, row, 0, dh);
                        dQkv.put(qkvAt(b, s) + 2 * d + h * dh, row, 0, dh);
                        continue;
                    }
                    rows.get(qkvAt(b, s) + d + h * dh, k, 0, dh);
                    rows.get(qkvAt(b, s) + 2 * d + h * dh, v, 0, dh);
                    phi(k, phiKRow);
                    java.util.Arrays.fill(row, 0f);
                    for (int i = 0; i < dh; i++) {
                        axpy(phiKRow[i], state, i * dh, row);                             // ∂v = Rᵀ·φ(k)
                        k[i] = (dot(v, state, i * dh) + sum[i]) * slope(k[i]);            // ∂k = (R·v + r)·φ'
                    }
                    dQkv.put(qkvAt(b, s) + d + h * dh, k, 0, dh);
                    dQkv.put(qkvAt(b, s) + 2 * d + h * dh, row, 0, dh);
                }
            }
        }
    }

    /** R += φ(q_u)·dnum_uᵀ and r += φ(q_u)·dden_u. */
    private void addQuery(FloatBuffer rows, int b, int h, int u) {
        rows.get(qkvAt(b, u) + h * dh, q, 0, dh);
        phi(q, phiQRow);
        for (int i = 0; i < dh; i++) {
            axpy(phiQRow[i], scaled, u * dh, state, i * dh);
            sum[i] += phiQRow[i] * denGradient[u];
        }
    }

    /** The weights out_t is a mixture by: φ(q_t)·φ(k_s) / den_t over the keys t may see. */
    @Override
    public float[] map(int layer, int sequences, int[] keys) {
        FloatBuffer rows = qkv[layer];
        float[] map = new float[sequences * heads * t * t];
        for (int b = 0; b < sequences; b++) {
            int keyEnd = c.causal() || keys == null ? t : keys[b];
            for (int h = 0; h < heads; h++) {
                for (int query = 0; query < t; query++) {
                    rows.get(qkvAt(b, query) + h * dh, q, 0, dh);
                    phi(q, phiQRow);
                    int at = ((b * heads + h) * t + query) * t;
                    int last = c.causal() ? query : keyEnd - 1;
                    float total = EPS;
                    for (int s = 0; s <= last; s++) {
                        rows.get(qkvAt(b, s) + d + h * dh, k, 0, dh);
                        phi(k, phiKRow);
                        map[at + s] = dot(phiQRow, phiKRow, 0);
                        total += map[at + s];
                    }
                    for (int s = 0; s <= last; s++) {
                        map[at + s] /= total;
                    }
                }
            }
        }
        return map;
    }

    private int qkvAt(int b, int position) {
        return (b * t + position) * 3 * d;
    }

    private int rowAt(int b, int position) {
        return (b * t + position) * d;
    }

    /** φ(x) = elu(x) + 1: x + 1 for x > 0, eˣ otherwise. */
    private static void phi(float[] x, float[] out) {
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] > 0 ? x[i] + 1 : (float) Math.exp(x[i]);
        }
    }

    /** φ'(x): 1 for x > 0, eˣ otherwise. */
    private static float slope(float x) {
        return x > 0 ? 1f : (float) Math.exp(x);
    }

    /** y[j] += a·x[xOffset + j] for j < dh. */
    private void axpy(float a, float[] x, int xOffset, float[] y) {
        for (int j = 0; j < dh; j++) {
            y[j] += a * x[xOffset + j];
        }
    }

    /** y[yOffset + j] += a·x[xOffset + j] for j < dh. */
    private void axpy(float a, float[] x, int xOffset, float[] y, int yOffset) {
        for (int j = 0; j < dh; j++) {
            y[yOffset + j] += a * x[xOffset + j];
        }
    }

    /** Σ_j a[j]·b[bOffset + j] over dh. */
    private float dot(float[] a, float[] b, int bOffset) {
        return dot(a, 0, b, bOffset);
    }

    private float dot(float[] a, int aOffset, float[] b, int bOffset) {
        float total = 0f;
        for (int j = 0; j < dh; j++) {
            total += a[aOffset + j] * b[bOffset + j];
        }
        return total;
    }
}

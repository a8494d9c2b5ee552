package io.ringformer.zoo.attention;

import io.ringformer.zoo.attention.MultiHeadAttention.Spec;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Plain-Java, double-precision attention written loop by loop from the papers, independent of the SameDiff code
 * it checks: no reshapes, no permutes, no folded masks.
 */
final class AttentionReference {

    private AttentionReference() {}

    record Attended(double[][][][] values, double[][][][] weights) {}

    /** q [B][H][T][dh], k/v [B][H][S][dh]; bias [B][H][T][S] or null. */
    static Attended attention(double[][][][] q, double[][][][] k, double[][][][] v, double[][][][] bias) {
        int batch = q.length, heads = q[0].length, queries = q[0][0].length, dh = q[0][0][0].length;
        int keys = k[0][0].length;
        double[][][][] values = new double[batch][heads][queries][dh];
        double[][][][] weights = new double[batch][heads][queries][keys];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                for (int t = 0; t < queries; t++) {
                    double[] scores = new double[keys];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int s = 0; s < keys; s++) {
                        double dot = 0;
                        for (int j = 0; j < dh; j++) {
                            dot += q[b][h][t][j] * k[b][h][s][j];
                        }
                        scores[s] = dot / Math.sqrt(dh) + (bias == null ? 0 : bias[b][h][t][s]);
                        max = Math.max(max, scores[s]);
                    }
                    double sum = 0;
                    for (int s = 0; s < keys; s++) {
                        scores[s] = Math.exp(scores[s] - max);
                        sum += scores[s];
                    }
                    for (int s = 0; s < keys; s++) {
                        weights[b][h][t][s] = scores[s] / sum;
                        for (int j = 0; j < dh; j++) {
                            values[b][h][t][j] += weights[b][h][t][s] * v[b][h][s][j];
                        }
                    }
                }
            }
        }
        return new Attended(values, weights);
    }

    /** x [N][in] · w [in][out] + b [out] */
    static double[][] linear(double[][] x, double[][] w, double[] b) {
        double[][] y = new double[x.length][w[0].length];
        for (int n = 0; n < x.length; n++) {
            for (int o = 0; o < w[0].length; o++) {
                double sum = b[o];
                for (int i = 0; i < w.length; i++) {
                    sum += x[n][i] * w[i][o];
                }
                y[n][o] = sum;
            }
        }
        return y;
    }

    /** Head {@code h} of part {@code part} lives in columns part·d + h·dh … of row b·T + t. */
    static double[][][][] heads(double[][] rows, int batch, int length, int heads, int dh, int part) {
        double[][][][] x = new double[batch][heads][length][dh];
        int d = heads * dh;
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                for (int t = 0; t < length; t++) {
                    for (int j = 0; j < dh; j++) {
                        x[b][h][t][j] = rows[b * length + t][part * d + h * dh + j];
                    }
                }
            }
        }
        return x;
    }

    static double[][] merge(double[][][][] x) {
        int batch = x.length, heads = x[0].length, length = x[0][0].length, dh = x[0][0][0].length;
        double[][] rows = new double[batch * length][heads * dh];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                for (int t = 0; t < length; t++) {
                    for (int j = 0; j < dh; j++) {
                        rows[b * length + t][h * dh + j] = x[b][h][t][j];
                    }
                }
            }
        }
        return rows;
    }

    /** RoPE straight from the paper's pairwise rotation, pairing feature i with i + dh/2. */
    static double[][][][] rope(double[][][][] x) {
        int dh = x[0][0][0].length, half = dh / 2;
        double[][][][] y = new double[x.length][x[0].length][x[0][0].length][dh];
        for (int b = 0; b < x.length; b++) {
            for (int h = 0; h < x[0].length; h++) {
                for (int p = 0; p < x[0][0].length; p++) {
                    for (int i = 0; i < half; i++) {
                        double angle = p * Math.pow(10000.0, -2.0 * i / dh);
                        double a = x[b][h][p][i], c = x[b][h][p][i + half];
                        y[b][h][p][i] = a * Math.cos(angle) - c * Math.sin(angle);
                        y[b][h][p][i + half] = c * Math.cos(angle) + a * Math.sin(angle);
                    }
                }
            }
        }
        return y;
    }

    /** Bias [B][H][T][S] from causality, ALiBi (with slopes written out here) and a [B][S] keep mask. */
    static double[][][][] bias(int batch, int heads, int queries, int keys, boolean causal, boolean alibi,
                               double[][] keep) {
        double[][][][] bias = new double[batch][heads][queries][keys];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                double slope = Math.pow(2.0, -8.0 * (h + 1) / heads); // power-of-two head counts only
                for (int t = 0; t < queries; t++) {
                    for (int s = 0; s < keys; s++) {
                        if (causal && s > t) {
                            bias[b][h][t][s] += -1e9;
                        }
                        if (alibi) {
                            bias[b][h][t][s] += -slope * Math.abs(t - s);
                        }
                        if (keep != null && keep[b][s] == 0) {
                            bias[b][h][t][s] += -1e9;
                        }
                    }
                }
            }
        }
        return bias;
    }

    /** Self-attention of rows x [B·T][d] with the weights of a graph; returns [B·T][d] and the weights. */
    static Attended selfAttention(double[][] x, int batch, int length, Spec spec, double[][] wQkv, double[] bQkv,
                                  double[][] wOut, double[] bOut, double[][] keep, double[][] out) {
        int h = spec.heads(), dh = spec.headDim();
        double[][] qkv = linear(x, wQkv, bQkv);
        double[][][][] q = heads(qkv, batch, length, h, dh, 0);
        double[][][][] k = heads(qkv, batch, length, h, dh, 1);
        double[][][][] v = heads(qkv, batch, length, h, dh, 2);
        if (spec.positions() == PositionType.ROPE) {
            q = rope(q);
            k = rope(k);
        }
        Attended attended = attention(q, k, v, bias(batch, h, length, length, spec.causal(),
                spec.positions() == PositionType.ALIBI, keep));
        double[][] projected = linear(merge(attended.values()), wOut, bOut);
        for (int n = 0; n < projected.length; n++) {
            out[n] = projected[n];
        }
        return attended;
    }

    static double[][][][] array4(INDArray a) {
        long[] s = a.shape();
        double[][][][] x = new double[(int) s[0]][(int) s[1]][(int) s[2]][(int) s[3]];
        for (int i = 0; i < s[0]; i++) {
            for (int j = 0; j < s[1]; j++) {
                for (int t = 0; t < s[2]; t++) {
                    for (int u = 0; u < s[3]; u++) {
                        x[i][j][t][u] = a.getDouble(i, j, t, u);
                    }
                }
            }
        }
        return x;
    }

    static double maxDifference(double[][][][] expected, INDArray actual) {
        double max = 0;
        double[][][][] a = array4(actual);
        for (int i = 0; i < expected.length; i++) {
            for (int j = 0; j < expected[0].length; j++) {
                for (int t = 0; t < expected[0][0].length; t++) {
                    for (int u = 0; u < expected[0][0][0].length; u++) {
                        max = Math.max(max, Math.abs(expected[i][j][t][u] - a[i][j][t][u]));
                    }
                }
            }
        }
        return max;
    }

    static double maxDifference(double[][] expected, INDArray actual) {
        double max = 0;
        for (int i = 0; i < expected.length; i++) {
            for (int j = 0; j < expected[0].length; j++) {
                max = Math.max(max, Math.abs(expected[i][j] - actual.getDouble(i, j)));
            }
        }
        return max;
    }
}

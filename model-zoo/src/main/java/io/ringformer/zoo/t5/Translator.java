package io.ringformer.zoo.t5;

import io.ringformer.zoo.attention.SinusoidalPositions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Function;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Generation with a trained {@link T5}: the same function as its graph, written for one sentence at a time so that
 * decoding can keep what it has computed. The encoder runs once; each decoder layer's cross-attention keys and
 * values are projected from its output once; and each decoder self-attention keeps a cache of the keys and values of
 * the tokens decoded so far, so a step computes one new position instead of the whole prefix again. Greedy and beam
 * search share the step. {@link #prefixLogits} is the uncached decoder over a whole prefix, for comparison.
 *
 * <p>Sizes: d the width, H heads of dₕ = d / H, S the source's real tokens (no padding is needed for one sentence),
 * t the tokens decoded so far.
 */
public final class Translator {

    private final T5.Config config;
    private final Function<String, INDArray> parameters;
    private final int heads;
    private final int headWidth;
    private final INDArray sinusoid;                                                         // [max(S, T), d]

    /** @param parameters the trained parameter of each name (as {@link T5#parameterNames}), fp32 */
    public Translator(T5.Config config, Function<String, INDArray> parameters) {
        this.config = config;
        this.parameters = name -> parameters.apply(name).castTo(DataType.FLOAT);
        this.heads = config.heads();
        this.headWidth = config.width() / config.heads();
        this.sinusoid = Nd4j.createFromArray(SinusoidalPositions.table(
                Math.max(config.sourceLength(), config.targetLength()), config.width()));
    }

    /** One candidate translation: its tokens (EOS excluded) and the sum of their log-probabilities (EOS included). */
    public record Hypothesis(int[] tokens, double logProbability) {}

    /** The source, encoded once, with each decoder layer's cross-attention keys and values. */
    public final class Source {
        private final INDArray[] crossKeys;                                                  // layers × [H, S, dₕ]
        private final INDArray[] crossValues;

        private Source(INDArray encoded) {
            int layers = config.layers();
            crossKeys = new INDArray[layers];
            crossValues = new INDArray[layers];
            int d = config.width();
            for (int layer = 0; layer < layers; layer++) {
                String name = "decoder/" + layer + "/cross";
                INDArray kv = linear(encoded, name + "/w_kv", name + "/b_kv");               // [S, 2d]
                crossKeys[layer] = heads(kv.get(NDArrayIndex.all(), NDArrayIndex.interval(0, d)));
                crossValues[layer] = heads(kv.get(NDArrayIndex.all(), NDArrayIndex.interval(d, 2 * d)));
            }
        }

        /** S, the source's tokens (EOS included). */
        int length() {
            return (int) crossKeys[0].size(1);
        }
    }

    /** What the decoder keeps between steps: each layer's self-attention keys and values so far. */
    private static final class Cache {
        final List<List<INDArray>> keys = new ArrayList<>();                                // layers × t × [H, dₕ]
        final List<List<INDArray>> values = new ArrayList<>();

        Cache(int layers) {
            for (int layer = 0; layer < layers; layer++) {
                keys.add(new ArrayList<>());
                values.add(new ArrayList<>());
            }
        }

        Cache copy() {
            Cache copy = new Cache(keys.size());
            for (int layer = 0; layer < keys.size(); layer++) {
                copy.keys.get(layer).addAll(keys.get(layer));                               // arrays are never changed
                copy.values.get(layer).addAll(values.get(layer));
            }
            return copy;
        }

        int length() {
            return keys.get(0).size();
        }
    }

    /** Runs the encoder over the source's ids (EOS included). */
    public Source encode(int[] source) {
        if (source.length == 0 || source.length > config.sourceLength()) {
            throw new IllegalArgumentException("the source is " + source.length + " tokens; this model reads 1 to "
                    + config.sourceLength());
        }
        int s = source.length;
        INDArray x = embed(source, 0);                                                       // [S, d]
        INDArray bias = relativeBias("encoder", s, s, true);                                 // [H, S, S]
        for (int layer = 0; layer < config.layers(); layer++) {
            String name = "encoder/" + layer;
            INDArray h = rmsNorm(x, name + "/norm_1/gain");                                 // [S, d]
            INDArray qkv = linear(h, name + "/self/w_qkv", name + "/self/b_qkv");          // [S, 3d]
            x = x.add(attend(name + "/self", slice(qkv, 0), slice(qkv, 1), slice(qkv, 2), bias));
            x = x.add(feedForward(name, x));
        }
        return new Source(rmsNorm(x, "encoder/norm_f/gain"));
    }

    /**
     * Greedy decoding with the cache: the likeliest token at each step, until EOS or {@code maxTokens}.
     *
     * @param noRepeatNgram n: no n-gram of token ids occurs twice in the output ({@link #banRepeats}); 0 allows any
     */
    public Hypothesis greedy(Source source, int maxTokens, int noRepeatNgram) {
        return beam(source, 1, maxTokens, noRepeatNgram).get(0);
    }

    /** Greedy decoding without the cache: the whole prefix through the decoder at every step. */
    public Hypothesis greedyUncached(Source source, int maxTokens, int noRepeatNgram) {
        checkLength(maxTokens);
        List<Integer> decoded = new ArrayList<>(List.of(T5.PAD));
        double logProbability = 0;
        for (int step = 0; step < maxTokens; step++) {
            INDArray logits = prefixLogits(source, decoded.stream().mapToInt(Integer::intValue).toArray());
            double[] last = allowedNext(decoded.subList(1, decoded.size()),
                    logSoftmax(logits.getRow(logits.rows() - 1)), noRepeatNgram);
            int best = argmax(last);
            logProbability += last[best];
            if (best == T5.EOS) {
                break;
            }
            decoded.add(best);
        }
        return new Hypothesis(decoded.stream().skip(1).mapToInt(Integer::intValue).toArray(), logProbability);
    }

    /**
     * Beam search with the cache: keeps the {@code width} likeliest prefixes by the sum of their log-probabilities,
     * a prefix ending when it emits EOS. Finished hypotheses are ranked by log-probability over length^0.6 (GNMT's
     * length penalty, Wu et al. 2016), so longer translations are not punished for every extra token. With
     * {@code noRepeatNgram} n > 0 a prefix may not extend into an n-gram it already holds ({@link #banRepeats}); a
     * hypothesis's score stays the sum of its tokens' log-probabilities under the model.
     *
     * @return the {@code width} best, best first
     */
    public List<Hypothesis> beam(Source source, int width, int maxTokens, int noRepeatNgram) {
        if (width < 1) {
            throw new IllegalArgumentException("the beam width must be at least 1");
        }
        checkLength(maxTokens);
        record Prefix(List<Integer> tokens, double logProbability, Cache cache, double[] next) {}
        Cache start = new Cache(config.layers());
        List<Prefix> live = List.of(new Prefix(List.of(), 0, start, step(source, start, T5.PAD)));
        List<Hypothesis> finished = new ArrayList<>();
        for (int length = 0; length < maxTokens && !live.isEmpty() && finished.size() < width; length++) {
            record Candidate(Prefix from, int token, double logProbability) {}
            List<Candidate> candidates = new ArrayList<>();
            for (Prefix prefix : live) {
                if (prefix.next() == null) {
                    continue;
                }
                double[] next = allowedNext(prefix.tokens(), prefix.next(), noRepeatNgram);
                for (int token : topK(next, width)) {
                    if (next[token] != Double.NEGATIVE_INFINITY) {
                        candidates.add(new Candidate(prefix, token, prefix.logProbability() + next[token]));
                    }
                }
            }
            candidates.sort(Comparator.comparingDouble(c -> -c.logProbability()));
            List<Prefix> next = new ArrayList<>();
            for (Candidate c : candidates) {
                if (next.size() + finished.size() >= width) {
                    break;
                }
                if (c.token() == T5.EOS) {
                    finished.add(new Hypothesis(c.from().tokens().stream().mapToInt(Integer::intValue).toArray(),
                            c.logProbability()));
                } else {
                    List<Integer> tokens = new ArrayList<>(c.from().tokens());
                    tokens.add(c.token());
                    Cache cache = c.from().cache().copy();
                    boolean more = tokens.size() < maxTokens;           // the last token needs no next step
                    next.add(new Prefix(tokens, c.logProbability(), cache, more ? step(source, cache, c.token())
                            : null));
                }
            }
            live = next;
        }
        for (Prefix prefix : live) {                                                          // out of tokens
            finished.add(new Hypothesis(prefix.tokens().stream().mapToInt(Integer::intValue).toArray(),
                    prefix.logProbability()));
        }
        finished.sort(Comparator.comparingDouble(h -> -h.logProbability() / Math.pow(Math.max(1, h.tokens().length
                + 1), 0.6)));
        return finished.subList(0, Math.min(width, finished.size()));
    }

    /**
     * The log-probabilities of the next token after {@code tokens} with −∞ for what may not come next: EOS before
     * any token, and every token {@link #banRepeats} bans. An empty translation is never right for a source of at
     * least one token, yet a weak model's beam ranked it first (EOS alone at −8.5 against −75 over 30 tokens for
     * a sentence, even after the length penalty). {@code logProbabilities} is not changed.
     */
    static double[] allowedNext(List<Integer> tokens, double[] logProbabilities, int noRepeatNgram) {
        double[] allowed = banRepeats(tokens, logProbabilities, noRepeatNgram);
        if (tokens.isEmpty()) {
            allowed = allowed.clone();
            allowed[T5.EOS] = Double.NEGATIVE_INFINITY;
        }
        return allowed;
    }

    /**
     * No-repeat n-gram blocking (Paulus et al. 2018, "A deep reinforced model for abstractive summarization"; Hugging
     * Face's {@code no_repeat_ngram_size}): the log-probabilities of the next token after {@code tokens}, with −∞ for
     * every token that would complete an n-gram already in {@code tokens}, i.e. every token that once followed
     * {@code tokens}' last n − 1. A small model's greedy output falls into loops ("los hijos de los hijos de …"),
     * which this cuts; n counts token ids, not words. {@code logProbabilities} is not changed.
     *
     * @param n 0 bans nothing; 1 bans every token already emitted
     */
    static double[] banRepeats(List<Integer> tokens, double[] logProbabilities, int n) {
        int t = tokens.size();
        if (n < 1 || t < n) {
            return logProbabilities;
        }
        double[] banned = logProbabilities.clone();
        for (int start = 0; start + n <= t; start++) {                    // each n-gram tokens[start, start + n)
            boolean same = true;
            for (int k = 0; k < n - 1 && same; k++) {                     // its first n − 1 = the last n − 1?
                same = tokens.get(start + k).equals(tokens.get(t - (n - 1) + k));
            }
            if (same) {
                banned[tokens.get(start + n - 1)] = Double.NEGATIVE_INFINITY;
            }
        }
        return banned;
    }

    private void checkLength(int maxTokens) {
        if (maxTokens < 1 || maxTokens > config.targetLength()) {
            throw new IllegalArgumentException("this model decodes 1 to " + config.targetLength() + " tokens, not "
                    + maxTokens);
        }
    }

    /**
     * The decoder on one more token: appends its keys and values to {@code cache} and returns the log-probabilities
     * of the token after it, [V].
     */
    private double[] step(Source source, Cache cache, int token) {
        int position = cache.length();
        if (position >= config.targetLength()) {
            throw new IllegalArgumentException("this model decodes at most " + config.targetLength() + " tokens");
        }
        int d = config.width();
        INDArray y = embed(new int[] {token}, position);                                     // [1, d]
        INDArray bias = relativeBias("decoder", 1, position + 1, false, position);          // [H, 1, t+1]
        INDArray crossBias = crossBias(source, 1, position);                                 // [H, 1, S] or null
        for (int layer = 0; layer < config.layers(); layer++) {
            String name = "decoder/" + layer;
            INDArray h = rmsNorm(y, name + "/norm_1/gain");                                 // [1, d]
            INDArray qkv = linear(h, name + "/self/w_qkv", name + "/self/b_qkv");          // [1, 3d]
            cache.keys.get(layer).add(slice(qkv, 1).reshape(heads, headWidth));
            cache.values.get(layer).add(slice(qkv, 2).reshape(heads, headWidth));
            INDArray keys = Nd4j.stack(1, cache.keys.get(layer).toArray(INDArray[]::new));     // [H, t+1, dₕ]
            INDArray values = Nd4j.stack(1, cache.values.get(layer).toArray(INDArray[]::new)); // [H, t+1, dₕ]
            y = y.add(attendHeads(name + "/self", heads(slice(qkv, 0)), keys, values, bias));
            y = y.add(cross(source, layer, y, crossBias));
            y = y.add(feedForward(name, y));
        }
        return logSoftmax(head(y).getRow(0));
    }

    /** The decoder over a whole prefix at once (no cache): its logits at every position, [t, V]. */
    public INDArray prefixLogits(Source source, int[] prefix) {
        int t = prefix.length;
        INDArray y = embed(prefix, 0);                                                       // [t, d]
        INDArray bias = relativeBias("decoder", t, t, false);                                // [H, t, t]
        INDArray crossBias = crossBias(source, t, 0);                                        // [H, t, S] or null
        for (int i = 0; i < t; i++) {                                                        // causal
            for (int j = i + 1; j < t; j++) {
                bias.get(NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.point(j)).assign(-1e9);
            }
        }
        for (int layer = 0; layer < config.layers(); layer++) {
            String name = "decoder/" + layer;
            INDArray h = rmsNorm(y, name + "/norm_1/gain");                                 // [t, d]
            INDArray qkv = linear(h, name + "/self/w_qkv", name + "/self/b_qkv");          // [t, 3d]
            y = y.add(attend(name + "/self", slice(qkv, 0), slice(qkv, 1), slice(qkv, 2), bias));
            y = y.add(cross(source, layer, y, crossBias));
            y = y.add(feedForward(name, y));
        }
        return head(y);
    }

    /** The normed cross-attention branch of decoder layer {@code layer}, [n, d]. */
    private INDArray cross(Source source, int layer, INDArray y, INDArray crossBias) {
        String name = "decoder/" + layer;
        INDArray h = rmsNorm(y, name + "/norm_cross/gain");                                 // [n, d]
        INDArray q = heads(linear(h, name + "/cross/w_q", name + "/cross/b_q"));            // [H, n, dₕ]
        return attendHeads(name + "/cross", q, source.crossKeys[layer], source.crossValues[layer], crossBias);
    }

    /** Cross-attention's relative bias for n queries from position {@code firstQuery} on: [H, n, S], or null. */
    private INDArray crossBias(Source source, int queries, int firstQuery) {
        return config.crossBias() ? relativeBias("decoder/cross", queries, source.length(), true, firstQuery) : null;
    }

    /** Self-attention from [n, d] projections. */
    private INDArray attend(String name, INDArray q, INDArray k, INDArray v, INDArray bias) {
        return attendHeads(name, heads(q), heads(k), heads(v), bias);
    }

    /**
     * Softmax(q·kᵀ/√dₕ + bias)·v per head, merged and projected.
     *
     * @param q    [H, n, dₕ]
     * @param k    [H, m, dₕ]
     * @param v    [H, m, dₕ]
     * @param bias [H, n, m] or null
     * @return [n, d]
     */
    private INDArray attendHeads(String name, INDArray q, INDArray k, INDArray v, INDArray bias) {
        INDArray scores = Nd4j.matmul(q, k, false, true, false).muli(1.0 / Math.sqrt(headWidth)); // [H, n, m]
        if (bias != null) {
            scores.addi(bias);
        }
        INDArray weights = Nd4j.nn.softmax(scores, 2);                                      // [H, n, m]
        INDArray attended = Nd4j.matmul(weights, v);                                          // [H, n, dₕ]
        INDArray merged = attended.permute(1, 0, 2).dup('c').reshape(-1, config.width());   // [n, d]
        return linear(merged, name + "/w_out", name + "/b_out");                            // [n, d]
    }

    /** T5's relative bias for n queries at positions {@code first…} and m keys: [H, n, m]. */
    private INDArray relativeBias(String stack, int queries, int keys, boolean bidirectional) {
        return relativeBias(stack, queries, keys, bidirectional, 0);
    }

    private INDArray relativeBias(String stack, int queries, int keys, boolean bidirectional, int firstQuery) {
        INDArray table = parameters.apply(stack + "/relative_bias");                        // [NB, H]
        INDArray bias = Nd4j.create(DataType.FLOAT, heads, queries, keys);
        for (int i = 0; i < queries; i++) {
            for (int j = 0; j < keys; j++) {
                int bucket = RelativePositions.bucket(j - (firstQuery + i), bidirectional, config.buckets(),
                        config.maxDistance());
                for (int h = 0; h < heads; h++) {
                    bias.putScalar(h, i, j, table.getDouble(bucket, h) * config.biasScale());
                }
            }
        }
        return bias;
    }

    private INDArray feedForward(String name, INDArray x) {
        INDArray h = rmsNorm(x, name + "/norm_2/gain");                                     // [n, d]
        INDArray inner = Transforms.relu(h.mmul(parameters.apply(name + "/mlp/w_in")), false); // [n, F]
        return inner.mmul(parameters.apply(name + "/mlp/w_out"));                           // [n, d]
    }

    /** The tied head: (RMSNorm(y) · d^-½) · Eᵀ, [n, V]. */
    private INDArray head(INDArray y) {
        INDArray h = rmsNorm(y, "decoder/norm_f/gain").muli(1.0 / Math.sqrt(config.width())); // [n, d]
        return h.mmul(parameters.apply("shared").transpose());                               // [n, V]
    }

    /** The tokens' rows of the shared table, [n, d]; with absolute positions, plus those of first … first + n − 1. */
    private INDArray embed(int[] tokens, int first) {
        INDArray shared = parameters.apply("shared");                                        // [V, d]
        INDArray rows = Nd4j.create(DataType.FLOAT, tokens.length, config.width());
        for (int i = 0; i < tokens.length; i++) {
            rows.putRow(i, shared.getRow(tokens[i]));
        }
        if (config.absolutePositions()) {
            rows.addi(sinusoid.get(NDArrayIndex.interval(first, first + tokens.length), NDArrayIndex.all()));
        }
        return rows;                                                                          // [n, d]
    }

    private INDArray rmsNorm(INDArray x, String gain) {
        INDArray meanSquare = x.mul(x).mean(true, 1);                                        // [n, 1]
        return x.divColumnVector(Transforms.sqrt(meanSquare.addi(1e-6), false))
                .muliRowVector(parameters.apply(gain));                                      // [n, d]
    }

    private INDArray linear(INDArray x, String weight, String bias) {
        return x.mmul(parameters.apply(weight)).addiRowVector(parameters.apply(bias));
    }

    /** Part {@code part} of a fused [n, 3d] projection: [n, d]. */
    private INDArray slice(INDArray qkv, int part) {
        int d = config.width();
        return qkv.get(NDArrayIndex.all(), NDArrayIndex.interval(part * d, (part + 1) * d));
    }

    /** [n, d] → [H, n, dₕ]. */
    private INDArray heads(INDArray x) {
        return x.dup('c').reshape(-1, heads, headWidth).permute(1, 0, 2).dup('c');
    }

    private static double[] logSoftmax(INDArray logits) {
        double[] row = logits.toDoubleVector();
        double max = Double.NEGATIVE_INFINITY;
        for (double l : row) {
            max = Math.max(max, l);
        }
        double sum = 0;
        for (double l : row) {
            sum += Math.exp(l - max);
        }
        double log = max + Math.log(sum);
        for (int i = 0; i < row.length; i++) {
            row[i] -= log;
        }
        return row;
    }

    private static int argmax(double[] row) {
        int best = 0;
        for (int i = 1; i < row.length; i++) {
            best = row[i] > row[best] ? i : best;
        }
        return best;
    }

    private static int[] topK(double[] row, int k) {
        return java.util.stream.IntStream.range(0, row.length).boxed()
                .sorted(Comparator.comparingDouble(i -> -row[i])).limit(k).mapToInt(Integer::intValue).toArray();
    }
}

package io.ringformer.zoo.gpt;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Autoregressive sampling from a GPT: feed the last {@code blockSize} tokens (right-padded; causal attention
 * makes the padding invisible to the positions that matter), take the logits of the last real position, divide
 * by the temperature, keep the top k, and draw. The same seed gives the same text.
 */
public final class Sampler {

    private final Gpt gpt;

    /** @param gpt an inference graph (no dropout) holding trained parameters */
    public Sampler(Gpt gpt) {
        this.gpt = gpt;
    }

    /**
     * @param temperature 0 picks the most likely token every time
     * @param topK        0 keeps every token
     * @return the {@code count} new tokens
     */
    public int[] sample(int[] prompt, int count, double temperature, int topK, long seed) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        SplittableRandom random = new SplittableRandom(seed);
        int[] tokens = Arrays.copyOf(prompt, prompt.length + count);
        for (int length = prompt.length; length < tokens.length; length++) {
            tokens[length] = pick(nextLogits(Arrays.copyOf(tokens, length)), gpt.config().vocabSize(), temperature,
                    topK, random);
        }
        return Arrays.copyOfRange(tokens, prompt.length, tokens.length);
    }

    /**
     * The logits of the token after {@code context}, seen through its last {@code blockSize} tokens.
     *
     * @return [V]
     */
    public double[] nextLogits(int[] context) {
        if (context.length == 0) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        int block = gpt.config().blockSize();
        int start = Math.max(0, context.length - block);
        int used = context.length - start;
        int[][] window = new int[1][block];                                                     // right-padded
        System.arraycopy(context, start, window[0], 0, used);
        Map<String, INDArray> feed = new HashMap<>();
        feed.put(Gpt.TOKENS, Nd4j.createFromArray(window));
        feed.put(Gpt.TARGETS, Nd4j.createFromArray(window));
        INDArray logits = gpt.graph().output(feed, Gpt.LOGITS).get(Gpt.LOGITS);                // [T, V]
        return logits.getRow(used - 1).toDoubleVector();                                       // [V]
    }

    static int pick(double[] logits, int vocab, double temperature, int topK, SplittableRandom random) {
        if (temperature <= 0) {
            int best = 0;
            for (int i = 1; i < vocab; i++) {
                best = logits[i] > logits[best] ? i : best;
            }
            return best;
        }
        double cutoff = Double.NEGATIVE_INFINITY;
        if (topK > 0 && topK < vocab) {
            double[] sorted = logits.clone();
            Arrays.sort(sorted);
            cutoff = sorted[vocab - topK];
        }
        double max = Arrays.stream(logits).max().orElseThrow();
        double[] weights = new double[vocab];
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            weights[i] = logits[i] < cutoff ? 0 : Math.exp((logits[i] - max) / temperature);
            sum += weights[i];
        }
        double u = random.nextDouble() * sum;
        for (int i = 0; i < vocab; i++) {
            u -= weights[i];
            if (u < 0) {
                return i;
            }
        }
        return vocab - 1;
    }
}

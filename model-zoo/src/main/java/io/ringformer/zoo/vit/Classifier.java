package io.ringformer.zoo.vit;

import io.ringformer.zoo.vision.ImageStatistics;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** A trained {@link Vit} as a classifier of images in [0, 1]: normalised as in training, then softmax. */
public final class Classifier {

    /** One class and its probability. */
    public record Guess(String label, double probability) {}

    private final Vit vit;
    private final ImageStatistics statistics;

    public Classifier(Vit vit, ImageStatistics statistics) {
        this.vit = vit;
        this.statistics = statistics;
    }

    /** Every class with its probability, the likeliest first, for one image [H·W] of pixels in [0, 1]. */
    public List<Guess> classify(float[] image) {
        float[] pixels = image.clone();
        statistics.normalize(pixels);
        Map<String, INDArray> feed = Map.of(Vit.PIXELS, Nd4j.createFromArray(pixels).reshape(1, pixels.length),
                Vit.LABELS, Nd4j.createFromArray(new int[][] {{0}}));
        double[] logits = vit.graph().output(feed, List.of(Vit.LOGITS)).get(Vit.LOGITS).toDoubleVector();
        double max = java.util.Arrays.stream(logits).max().orElse(0);
        double z = 0;
        for (double logit : logits) {
            z += Math.exp(logit - max);
        }
        List<Guess> guesses = new ArrayList<>();
        for (int c = 0; c < logits.length; c++) {
            guesses.add(new Guess(statistics.classNames().get(c), Math.exp(logits[c] - max) / z));
        }
        guesses.sort((a, b) -> Double.compare(b.probability(), a.probability()));
        return guesses;
    }
}

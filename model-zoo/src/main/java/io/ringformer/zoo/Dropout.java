package io.ringformer.zoo;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Inverted dropout whose randomness comes from outside the graph: each dropout site is x · [u ≥ p] / (1 − p),
 * u a placeholder of x's shape that {@link #noise} fills from (seed, step, site, sequence).
 *
 * <p>Why not SameDiff's own ops: in M2.1 {@code dropout} and {@code dropoutInverted} have no derivative, and a
 * random op inside a graph draws the same mask at every execution (its op context keeps the generator state of
 * its first run; re-seeding ND4J changes nothing). Noise keyed by the global sequence index also makes a run with
 * dropout independent of how its batch is split across workers and micro-batches.
 */
public final class Dropout {

    /** One site: its placeholder and the shape of its noise per sequence of the batch. */
    private record Site(String name, long rowsPerSequence, long[] trailing) {}

    private final SameDiff sd;
    private final double probability;
    private final List<Site> sites = new ArrayList<>();

    public Dropout(SameDiff sd, double probability) {
        this.sd = sd;
        this.probability = probability;
    }

    /**
     * Drops elements of x while training.
     *
     * @param rowsPerSequence how many of x's leading rows belong to one sequence (T for [B·T, d], 1 for [B, …])
     * @param trailing        x's dimensions after the leading one
     */
    public SDVariable apply(SDVariable x, long rowsPerSequence, long... trailing) {
        if (probability <= 0) {
            return x;
        }
        long[] shape = new long[trailing.length + 1];
        shape[0] = -1;
        System.arraycopy(trailing, 0, shape, 1, trailing.length);
        String name = "dropout_noise_" + sites.size();
        sites.add(new Site(name, rowsPerSequence, trailing));
        SDVariable uniform = sd.placeHolder(name, x.dataType(), shape);
        SDVariable keep = sd.gte(uniform, probability).castTo(x.dataType()).mul(1.0 / (1.0 - probability));
        return x.mul(keep);
    }

    /**
     * Noise for every site, for sequences {@code firstSequence … firstSequence + sequences − 1} of the global batch
     * of {@code step}. The same (seed, step, sequence) gives the same mask wherever that sequence is trained.
     */
    public Map<String, INDArray> noise(long seed, long step, int firstSequence, int sequences) {
        Map<String, INDArray> feed = new HashMap<>();
        for (int s = 0; s < sites.size(); s++) {
            Site site = sites.get(s);
            long perSequence = site.rowsPerSequence();
            for (long dim : site.trailing()) {
                perSequence *= dim;
            }
            float[] values = new float[Math.toIntExact(perSequence * sequences)];
            for (int q = 0; q < sequences; q++) {
                SplittableRandom random = new SplittableRandom(mix(seed, step, s, firstSequence + q));
                for (int i = 0; i < perSequence; i++) {
                    values[(int) (q * perSequence + i)] = (float) random.nextDouble();
                }
            }
            long[] shape = new long[site.trailing().length + 1];
            shape[0] = site.rowsPerSequence() * sequences;
            System.arraycopy(site.trailing(), 0, shape, 1, site.trailing().length);
            feed.put(site.name(), Nd4j.createFromArray(values).reshape(shape).castTo(DataType.FLOAT));
        }
        return feed;
    }

    /** Whether this graph drops anything (training with a probability above 0). */
    public boolean isActive() {
        return probability > 0;
    }

    private static long mix(long seed, long step, int site, int sequence) {
        long h = seed * 0x9E3779B97F4A7C15L + step;
        h = (h ^ (h >>> 31)) * 0xBF58476D1CE4E5B9L + site;
        h = (h ^ (h >>> 29)) * 0x94D049BB133111EBL + sequence;
        return h ^ (h >>> 32);
    }
}

package io.ringformer.zoo;

import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Parameter initial values from one seeded stream, independent of ND4J's global RNG, so that the same seed gives
 * the same model in every process (the data-parallel workers rely on this).
 */
public final class Initializer {

    private final SplittableRandom random;
    private final DataType dataType;

    public Initializer(long seed, DataType dataType) {
        this.random = new SplittableRandom(seed);
        this.dataType = dataType;
    }

    public DataType dataType() {
        return dataType;
    }

    /** Normal(0, std²), the GPT-2 / nanoGPT initialisation for weights and embeddings. */
    public INDArray normal(double std, long... shape) {
        return Nd4j.createFromArray(normalValues(std, count(shape))).reshape(shape).castTo(dataType);
    }

    /** {@code count} draws of Normal(0, std²), the values {@link #normal} would hold: no ND4J involved. */
    public double[] normalValues(double std, long count) {
        double[] values = new double[Math.toIntExact(count)];
        for (int i = 0; i < values.length; i++) {
            values[i] = gaussian() * std;
        }
        return values;
    }

    /** {@code count} draws of Uniform(−bound, bound): PyTorch's default for nn.Linear weights and biases. */
    public double[] uniformValues(double bound, long count) {
        double[] values = new double[Math.toIntExact(count)];
        for (int i = 0; i < values.length; i++) {
            values[i] = (2 * random.nextDouble() - 1) * bound;
        }
        return values;
    }

    public INDArray zeros(long... shape) {
        return Nd4j.zeros(dataType, shape);
    }

    public INDArray ones(long... shape) {
        return Nd4j.ones(dataType, shape);
    }

    static long count(long[] shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        return n;
    }

    /** Box–Muller; SplittableRandom has no nextGaussian on Java 17. */
    private double gaussian() {
        double u = 1.0 - random.nextDouble();
        double v = random.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u)) * Math.cos(2.0 * Math.PI * v);
    }
}

package io.ringformer.zoo;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Central finite differences against SameDiff's gradients, in double precision. The checked scalar is
 * Σ output ⊙ R for a fixed random R, so every output element matters and no symmetry can hide an error.
 */
public final class GradientCheck {

    private static final double EPSILON = 1e-6;
    private static final double ABSOLUTE = 1e-7;
    private static final double RELATIVE = 1e-5;

    private GradientCheck() {}

    /** Uniform values in [−1, 1] from a seed, as a double array of the given shape cast to {@code type}. */
    public static INDArray uniform(long seed, org.nd4j.linalg.api.buffer.DataType type, long... shape) {
        SplittableRandom random = new SplittableRandom(seed);
        double[] values = new double[(int) java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        for (int i = 0; i < values.length; i++) {
            values[i] = random.nextDouble(-1, 1);
        }
        return Nd4j.createFromArray(values).reshape(shape).castTo(type);
    }

    public static boolean allFinite(INDArray array) {
        for (double value : array.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).data().asDouble()) {
            if (!Double.isFinite(value)) {
                return false;
            }
        }
        return true;
    }

    /** Adds Σ output ⊙ R, R uniform in [−1, 1] of the given shape, as the graph's loss; returns its name. */
    public static String projectToScalar(SameDiff sd, SDVariable output, long seed, long... shape) {
        String name = "gradient_check_loss";
        output.mul(sd.constant(uniform(seed, output.dataType(), shape))).sum(name);
        sd.setLossVariables(name);
        return name;
    }

    /**
     * Checks up to {@code samplesPerArray} random elements of each named variable or placeholder.
     *
     * @param placeholders values for every placeholder (double arrays are perturbed in place and restored)
     */
    public static void check(SameDiff sd, String loss, Map<String, INDArray> placeholders, int samplesPerArray,
                             String... names) {
        Map<String, INDArray> analytic = sd.calculateGradients(placeholders, names);
        SplittableRandom random = new SplittableRandom(7);
        for (String name : names) {
            INDArray values = placeholders.containsKey(name) ? placeholders.get(name) : sd.getArrForVarName(name);
            INDArray gradient = analytic.get(name);
            assertTrue(gradient != null, "no gradient for " + name);
            long n = values.length();
            int samples = (int) Math.min(n, samplesPerArray);
            for (int i = 0; i < samples; i++) {
                long index = samples == n ? i : random.nextLong(n);
                double original = values.getDouble(index);
                values.putScalar(index, original + EPSILON);
                double plus = scalar(sd, loss, placeholders);
                values.putScalar(index, original - EPSILON);
                double minus = scalar(sd, loss, placeholders);
                values.putScalar(index, original);
                double numeric = (plus - minus) / (2 * EPSILON);
                double exact = gradient.getDouble(index);
                double error = Math.abs(numeric - exact);
                assertTrue(error <= ABSOLUTE + RELATIVE * Math.max(Math.abs(numeric), Math.abs(exact)),
                        name + "[" + index + "]: analytic " + exact + " vs numeric " + numeric);
            }
        }
    }

    private static double scalar(SameDiff sd, String loss, Map<String, INDArray> placeholders) {
        return sd.output(new HashMap<>(placeholders), loss).get(loss).getDouble(0);
    }
}

package io.ringformer.zoo.family;

import java.util.Arrays;
import java.util.List;

/**
 * A trained model as another framework loads it ({@link ModelFamily#export}): the tensors to write, in order, each
 * taken from one of ringformer's parameters, and that framework's {@code config.json}.
 *
 * <p>Most tensors are a parameter as it is (shape and row-major layout unchanged). The others differ from theirs in
 * one of three plain ways, which {@link Tensor} records so that the writer needs to know no family: PyTorch's
 * {@code nn.Linear} keeps its weight [out, in] where ringformer keeps [in, out] (transpose); a fused projection such
 * as our q | k | v {@code w_qkv} [d, 3d] is three tensors there (a range of columns, or of a vector's elements); and a
 * convolution's kernel has more axes than our GEMM matrix (a reshape, the values in the same order).
 *
 * @param format     what the names follow, e.g. "Hugging Face GPT2LMHeadModel"
 * @param tensors    what to write, in this order; every parameter of the model is the source of at least one
 * @param configJson the config.json to write beside the weights
 */
public record Export(String format, List<Tensor> tensors, String configJson) {

    public Export {
        tensors = List.copyOf(tensors);
    }

    /**
     * One written tensor: parameter {@code source}, then columns [from, to) of it (a vector: elements), then
     * transposed if asked, then reshaped to {@code shape} if given.
     *
     * @param name       its name in the other framework
     * @param source     the ringformer parameter it comes from
     * @param from       the first column (a vector's first element) taken; 0 with {@code to} = −1 takes them all
     * @param to         the column after the last one taken, or −1 for the last column
     * @param transposed a matrix written [columns, rows]: [in, out] → nn.Linear's [out, in]
     * @param shape      the shape written (the same values in the same order), or null for the one the steps give
     */
    public record Tensor(String name, String source, long from, long to, boolean transposed, long[] shape) {

        /** {@code source} as it is. */
        public static Tensor same(String name, String source) {
            return new Tensor(name, source, 0, -1, false, null);
        }

        /** An [in, out] matrix as nn.Linear's weight [out, in]. */
        public static Tensor transposed(String name, String source) {
            return new Tensor(name, source, 0, -1, true, null);
        }

        /** Columns [from, to) of a matrix [in, n] as nn.Linear's weight [to − from, in]. */
        public static Tensor transposedColumns(String name, String source, long from, long to) {
            return new Tensor(name, source, from, to, true, null);
        }

        /** Elements [from, to) of a vector. */
        public static Tensor elements(String name, String source, long from, long to) {
            return new Tensor(name, source, from, to, false, null);
        }

        /** This tensor written in {@code shape}: a reshape, the values and their order unchanged. */
        public Tensor reshaped(long... shape) {
            return new Tensor(name, source, from, to, transposed, shape.clone());
        }

        /**
         * The shape written, for a source of {@code sourceShape}.
         *
         * @throws IllegalArgumentException when the steps do not fit the source (a column range outside it, a
         *                                  transpose of something not a matrix, a reshape to another size)
         */
        public long[] shape(long[] sourceShape) {
            long[] taken = taken(sourceShape);
            long[] shaped = transposed ? new long[] {taken[1], taken[0]} : taken;
            if (shape == null) {
                return shaped;
            }
            if (count(shape) != count(shaped)) {
                throw new IllegalArgumentException(name + ": cannot reshape " + Arrays.toString(shaped) + " to "
                        + Arrays.toString(shape));
            }
            return shape.clone();
        }

        /** The values written, row-major, from {@code source}'s values (row-major, of {@code sourceShape}). */
        public float[] values(long[] sourceShape, float[] source) {
            long[] taken = taken(sourceShape);
            if (from == 0 && to == -1 && !transposed) {
                return source.clone();                                       // any rank, as it is
            }
            int rows = (int) (sourceShape.length == 1 ? 1 : sourceShape[0]);
            int columns = (int) sourceShape[sourceShape.length - 1];
            int first = (int) from;
            int width = (int) taken[taken.length - 1];
            float[] out = new float[rows * width];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < width; c++) {
                    float value = source[r * columns + first + c];
                    out[transposed ? c * rows + r : r * width + c] = value;      // [width, rows] or [rows, width]
                }
            }
            return out;
        }

        private static long count(long[] shape) {
            return Arrays.stream(shape).reduce(1, Math::multiplyExact);
        }

        /** The source's shape once the column range is taken. */
        private long[] taken(long[] sourceShape) {
            boolean whole = from == 0 && to == -1;
            if ((transposed && sourceShape.length != 2) || (!whole && sourceShape.length != 1 && sourceShape.length != 2)) {
                throw new IllegalArgumentException(name + ": " + source + " of shape " + Arrays.toString(sourceShape)
                        + " is not a matrix (or a vector) to take columns of or transpose");
            }
            if (whole) {
                return sourceShape.clone();
            }
            long columns = sourceShape[sourceShape.length - 1];
            if (from < 0 || to <= from || to > columns) {
                throw new IllegalArgumentException(name + ": columns [" + from + ", " + to + ") of " + source
                        + " of shape " + Arrays.toString(sourceShape));
            }
            long[] taken = sourceShape.clone();
            taken[taken.length - 1] = to - from;
            return taken;
        }
    }

    /** A LayerNorm's gain and bias under PyTorch's names, {@code theirs.weight} and {@code theirs.bias}. */
    public static void layerNorm(List<Tensor> tensors, String theirs, String ours) {
        tensors.add(Tensor.same(theirs + ".weight", ours + "/gain"));
        tensors.add(Tensor.same(theirs + ".bias", ours + "/bias"));
    }

    /** A projection as nn.Linear: weight [out, in] (ours is [in, out]) and bias. */
    public static void linear(List<Tensor> tensors, String theirs, String weight, String bias) {
        tensors.add(Tensor.transposed(theirs + ".weight", weight));
        tensors.add(Tensor.same(theirs + ".bias", bias));
    }

    /**
     * The standard block's fused self-attention input projection {@code ours/w_qkv} [d, 3d] (q | k | v, heads
     * contiguous in each) and {@code ours/b_qkv}, as three nn.Linear layers {@code theirs + "query"|"key"|"value"}.
     */
    public static void queryKeyValue(List<Tensor> tensors, String theirs, String ours, int width) {
        String[] projections = {"query", "key", "value"};
        for (int i = 0; i < projections.length; i++) {                     // [d, 3d] → 3 × [d, d]
            String name = theirs + projections[i];
            tensors.add(Tensor.transposedColumns(name + ".weight", ours + "/w_qkv", (long) i * width,
                    (long) (i + 1) * width));
            tensors.add(Tensor.elements(name + ".bias", ours + "/b_qkv", (long) i * width, (long) (i + 1) * width));
        }
    }
}

package io.ringformer.zoo.family;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The per-tensor steps of an {@link Export}: column ranges, transposes and reshapes, on a matrix small enough to read. */
class ExportTest {

    /** [2, 6]: value = 10·row + column. */
    private static final long[] SHAPE = {2, 6};
    private static final float[] MATRIX = {0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15};

    @Test
    void aTensorAsItIsKeepsShapeAndValues() {
        Export.Tensor same = Export.Tensor.same("x", "w");
        assertArrayEquals(SHAPE, same.shape(SHAPE));
        assertArrayEquals(MATRIX, same.values(SHAPE, MATRIX));
    }

    @Test
    void aTransposedMatrixIsWrittenColumnByColumn() {
        Export.Tensor linear = Export.Tensor.transposed("x", "w");
        assertArrayEquals(new long[] {6, 2}, linear.shape(SHAPE));
        assertArrayEquals(new float[] {0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15}, linear.values(SHAPE, MATRIX));
    }

    @Test
    void aRangeOfColumnsIsTakenBeforeTheTranspose() {
        Export.Tensor key = Export.Tensor.transposedColumns("x", "w", 2, 4);       // the middle third: "k" of q | k | v
        assertArrayEquals(new long[] {2, 2}, key.shape(SHAPE));
        assertArrayEquals(new float[] {2, 12, 3, 13}, key.values(SHAPE, MATRIX));
        Export.Tensor bias = Export.Tensor.elements("x", "b", 4, 6);
        assertArrayEquals(new long[] {2}, bias.shape(new long[] {6}));
        assertArrayEquals(new float[] {4, 5}, bias.values(new long[] {6}, MATRIX));
    }

    @Test
    void aReshapeKeepsTheValuesInOrder() {
        Export.Tensor kernel = Export.Tensor.transposed("x", "w").reshaped(6, 1, 1, 2);  // a conv kernel [out, c, p, q]
        assertArrayEquals(new long[] {6, 1, 1, 2}, kernel.shape(SHAPE));
        assertArrayEquals(Export.Tensor.transposed("x", "w").values(SHAPE, MATRIX), kernel.values(SHAPE, MATRIX));
    }

    @Test
    void stepsThatDoNotFitTheSourceAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> Export.Tensor.transposedColumns("x", "w", 4, 7).shape(SHAPE));
        assertThrows(IllegalArgumentException.class, () -> Export.Tensor.transposed("x", "b").shape(new long[] {6}));
        assertThrows(IllegalArgumentException.class, () -> Export.Tensor.same("x", "w").reshaped(5).shape(SHAPE));
    }
}

package io.ringformer.zoo.family;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One batch as named arrays, each [rows, width] row-major: {@code int} arrays (token ids, labels) and
 * {@code float} arrays (pixels, loss weights). A family's {@link DataSource} declares the arrays and fills them;
 * the trainer hands row ranges of them to the model. {@link #filled} rows hold data (an evaluation's last batch
 * may be short).
 */
public final class Batch {

    /** One array of a batch: its name, whether it holds ints or floats, and its width (values per row). */
    public record Field(String name, boolean integer, int width) {
        public static Field ints(String name, int width) {
            return new Field(name, true, width);
        }

        public static Field floats(String name, int width) {
            return new Field(name, false, width);
        }
    }

    private final int rows;
    private final Map<String, Field> fields = new LinkedHashMap<>();
    private final Map<String, int[]> ints = new LinkedHashMap<>();
    private final Map<String, float[]> floats = new LinkedHashMap<>();
    private int filled;

    public Batch(List<Field> layout, int rows) {
        this.rows = rows;
        this.filled = rows;
        for (Field field : layout) {
            fields.put(field.name(), field);
            if (field.integer()) {
                ints.put(field.name(), new int[rows * field.width()]);
            } else {
                floats.put(field.name(), new float[rows * field.width()]);
            }
        }
    }

    /** Rows the arrays have room for. */
    public int rows() {
        return rows;
    }

    /** Rows that hold data (all of them, except in an evaluation's last batch). */
    public int filled() {
        return filled;
    }

    public void setFilled(int rows) {
        if (rows < 0 || rows > this.rows) {
            throw new IllegalArgumentException("filled rows " + rows + " outside [0, " + this.rows + "]");
        }
        this.filled = rows;
    }

    public int width(String name) {
        return field(name).width();
    }

    public int[] ints(String name) {
        int[] array = ints.get(name);
        if (array == null) {
            throw new IllegalArgumentException("the batch has no int array '" + name + "' (it has " + fields.keySet()
                    + ")");
        }
        return array;
    }

    public float[] floats(String name) {
        float[] array = floats.get(name);
        if (array == null) {
            throw new IllegalArgumentException("the batch has no float array '" + name + "' (it has "
                    + fields.keySet() + ")");
        }
        return array;
    }

    private Field field(String name) {
        Field field = fields.get(name);
        if (field == null) {
            throw new IllegalArgumentException("the batch has no array '" + name + "' (it has " + fields.keySet() + ")");
        }
        return field;
    }
}

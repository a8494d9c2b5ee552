package io.ringformer.worker;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The layout of a model's trainable variables in one flat fp32 vector: parameters, gradients and optimizer state
 * all share it. Variables are laid out in reverse creation order (LM head side first), so that a later issue can
 * all-reduce the vector in buckets in the order backprop finishes them (DESIGN.md §3).
 *
 * <p>SameDiff keeps its own copy of every variable; {@link #write} copies the flat master values into it.
 */
public final class FlatParameters {

    /** One variable's place in the flat vector. */
    public record Segment(String name, long[] shape, int offset, int length, boolean decayed) {}

    private final List<Segment> segments;
    private final int size;

    private FlatParameters(List<Segment> segments, int size) {
        this.segments = segments;
        this.size = size;
    }

    /**
     * @param names   trainable variables in creation order
     * @param decayed which variables take weight decay
     */
    public static FlatParameters of(SameDiff sd, List<String> names, Predicate<String> decayed) {
        List<String> reversed = new ArrayList<>(names);
        Collections.reverse(reversed);
        List<Segment> segments = new ArrayList<>();
        long offset = 0;
        for (String name : reversed) {
            INDArray array = sd.getArrForVarName(name);
            segments.add(new Segment(name, array.shape(), Math.toIntExact(offset), Math.toIntExact(array.length()),
                    decayed.test(name)));
            offset += array.length();
        }
        return new FlatParameters(List.copyOf(segments), Math.toIntExact(offset));
    }

    public int size() {
        return size;
    }

    public List<Segment> segments() {
        return segments;
    }

    public List<String> names() {
        return segments.stream().map(Segment::name).toList();
    }

    /** Which flat elements take weight decay. */
    public boolean[] decayMask() {
        boolean[] mask = new boolean[size];
        for (Segment s : segments) {
            if (s.decayed()) {
                java.util.Arrays.fill(mask, s.offset(), s.offset() + s.length(), true);
            }
        }
        return mask;
    }

    /** The graph's current values, flattened. */
    public float[] read(SameDiff sd) {
        float[] flat = new float[size];
        for (Segment s : segments) {
            readable(sd.getArrForVarName(s.name())).get(flat, s.offset(), s.length());
        }
        return flat;
    }

    /** Copies the flat values into the graph's variables. */
    public void write(float[] flat, SameDiff sd) {
        for (Segment s : segments) {
            writable(s.name(), sd.getArrForVarName(s.name())).put(flat, s.offset(), s.length());
        }
    }

    /** {@code into += weight · gradients}, each gradient at its variable's place. */
    public void accumulate(Map<String, INDArray> gradients, float weight, float[] into) {
        for (Segment s : segments) {
            INDArray gradient = gradients.get(s.name());
            if (gradient == null) {
                throw new IllegalStateException("no gradient for " + s.name());
            }
            FloatBuffer values = readable(gradient);
            for (int i = 0; i < s.length(); i++) {
                into[s.offset() + i] += weight * values.get(i);
            }
        }
    }

    /** An array's values as fp32 in 'c' order: its own memory when it is laid out so, else a copy. */
    private static FloatBuffer readable(INDArray array) {
        INDArray plain = isPlain(array) ? array : array.castTo(DataType.FLOAT).dup('c');
        return plain.data().asNioFloat();
    }

    /** The array's own memory; a variable that is not a plain fp32 array would silently drop the write. */
    private static FloatBuffer writable(String name, INDArray array) {
        if (!isPlain(array)) {
            throw new IllegalStateException("variable " + name + " is not a plain fp32 'c'-order array ("
                    + array.dataType() + ", view " + array.isView() + "): the master copy cannot be written into it");
        }
        return array.data().asNioFloat();
    }

    private static boolean isPlain(INDArray array) {
        return !array.isView() && array.ordering() == 'c' && array.dataType() == DataType.FLOAT
                && array.offset() == 0;
    }
}

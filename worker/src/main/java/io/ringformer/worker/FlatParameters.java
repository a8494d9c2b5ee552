package io.ringformer.worker;

import io.ringformer.zoo.ParameterTable;
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
 * all share it. Variables are laid out in reverse order of {@code Model.parameterNames()} — reverse name order,
 * as SameDiff lists them; checkpoints store the vector in this layout without names, so it is part of their
 * format. (The all-reduce overlapped with the backward pass, {@code GradientBuckets}, takes ranges in the order the
 * backward pass completes them, wherever the layout puts them, so it needs no other order.)
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
     * @param parameters a model's declared parameters
     * @param names      their order ({@code Model.parameterNames}); laid out reversed
     * @param decayed    which of them take weight decay
     */
    public static FlatParameters of(ParameterTable parameters, List<String> names, Predicate<String> decayed) {
        List<String> reversed = new ArrayList<>(names);
        Collections.reverse(reversed);
        List<Segment> segments = new ArrayList<>();
        long offset = 0;
        for (String name : reversed) {
            ParameterTable.Parameter parameter = parameters.get(name);
            segments.add(new Segment(parameter.name(), parameter.shape(), Math.toIntExact(offset), parameter.size(),
                    decayed.test(parameter.name())));
            offset += parameter.size();
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

    /** The parameters' initial values, flattened (in fp32, as a graph of FLOAT holds them). */
    public float[] initial(ParameterTable parameters) {
        float[] flat = new float[size];
        for (Segment s : segments) {
            double[] values = parameters.get(s.name()).initial();
            for (int i = 0; i < s.length(); i++) {
                flat[s.offset() + i] = (float) values[i];
            }
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

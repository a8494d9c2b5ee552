package io.ringformer.zoo.fused;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.Map;

/**
 * A fused model's flat parameters and gradients in native memory, in the trainer's layout ({@code offsets} gives
 * each named variable's place), with a bf16 copy of the parameters for GEMMs that run in bf16.
 */
public final class FusedParameters {

    /** One parameter's values and gradient in the flat buffers, as views made once. */
    public record Parameter(ByteBuffer value, ByteBuffer gradient) {}

    private final int count;
    private final boolean bf16;
    private final Kernels kernels;
    private final Map<String, Integer> offsets;
    private final NativeBuffer params;
    private final NativeBuffer paramsBf16;
    private final NativeBuffer grads;
    private final ByteBuffer paramBytes;
    private final ByteBuffer paramBf16Bytes;
    private final FloatBuffer paramFloats;
    private final ByteBuffer gradBytes;

    public FusedParameters(Map<String, Integer> offsets, int count, boolean bf16, Kernels kernels) {
        this.count = count;
        this.bf16 = bf16;
        this.kernels = kernels;
        this.offsets = Map.copyOf(offsets);
        params = NativeBuffer.allocate(count, ElementType.F32);
        grads = NativeBuffer.allocate(count, ElementType.F32);
        paramsBf16 = bf16 ? NativeBuffer.allocate(count, ElementType.BF16) : null;
        paramBytes = params.bytes();
        paramBf16Bytes = bf16 ? paramsBf16.bytes() : null;
        paramFloats = paramBytes.asFloatBuffer();
        gradBytes = grads.bytes();
    }

    public boolean isBf16() {
        return bf16;
    }

    public Kernels kernels() {
        return kernels;
    }

    /** Copies the fp32 master parameters in (and rounds the bf16 copy): once per optimizer step. */
    public void set(float[] flat) {
        paramFloats.put(0, flat, 0, count);
        if (bf16) {
            kernels.toBf16(paramBytes, paramBf16Bytes, count);
        }
    }

    /** {@code into[i] += gradient[i]}, in the flat layout, read straight out of native memory. */
    public void addGradients(float[] into) {
        kernels.addToArray(gradBytes, into, 0, count);
    }

    /** {@code into[i] += gradient[i]} for i in [offset, offset + length): one parameter's part of {@link #addGradients}. */
    public void addGradients(float[] into, int offset, int length) {
        kernels.addToArray(gradBytes, into, offset, length);
    }

    /** The parameter called {@code name}, of {@code size} values. */
    public Parameter parameter(String name, int size) {
        int offset = offset(name);
        if (offset + size > count) {
            throw new IllegalArgumentException(name + " at " + offset + " (+" + size + ") lies outside the " + count
                    + " parameters");
        }
        return new Parameter(params.slice(offset, size), grads.slice(offset, size));
    }

    /** A weight matrix as a GEMM reads it: the bf16 copy in bf16, the fp32 values otherwise. */
    public View weight(String name, int rows, int columns) {
        return View.matrix(bf16 ? paramsBf16 : params, offset(name), rows, columns);
    }

    /** A bias row [1, columns] (always fp32: oneDNN adds it to the fp32 result). */
    public View bias(String name, int columns) {
        return View.matrix(params, offset(name), 1, columns);
    }

    /** A weight's gradient [rows, columns], fp32. */
    public View gradient(String name, int rows, int columns) {
        return View.matrix(grads, offset(name), rows, columns);
    }

    private int offset(String name) {
        Integer offset = offsets.get(name);
        if (offset == null) {
            throw new IllegalArgumentException("no parameter named " + name + " in the layout");
        }
        return offset;
    }
}

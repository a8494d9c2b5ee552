package io.ringformer.zoo.fused;

import java.util.Arrays;

/**
 * A tensor view: elements of a buffer from an offset, with dims and strides in elements (row-major by default).
 *
 * <p>Element {@code (i0, i1, …)} lives at {@code offset + Σ ik·strides[k]} of {@link #buffer()}. Nothing is
 * copied: a transposed or strided view reads the same memory. The constructor checks that every element the view
 * can address lies inside the buffer. The arrays are copied in and out, so a view is immutable.
 *
 * <p>The attention layout of the fused GPT, for example: the projection {@code qkv} is {@code [B·T, 3d]} row-major;
 * {@code heads(qkv, 0, B, H, T, dh, 3d)} is q as {@code [B, H, T, dh]} (strides {@code [T·3d, dh, 3d, 1]}),
 * {@code heads(qkv, d, …)} is k, {@code heads(qkv, 2d, …)} is v, and {@code k.transposed()} is kᵀ
 * {@code [B, H, dh, T]}.
 *
 * @param buffer  the memory
 * @param offset  index (in elements) of element (0, 0, …)
 * @param dims    sizes, each at least 1; 1 to 12 of them (oneDNN's limit)
 * @param strides distances in elements between neighbours along each dim, each at least 0
 */
public record View(NativeBuffer buffer, long offset, long[] dims, long[] strides) {

    /** oneDNN's DNNL_MAX_NDIMS. */
    static final int MAX_DIMS = 12;

    public View {
        if (buffer == null) {
            throw new IllegalArgumentException("buffer is null");
        }
        if (dims == null || strides == null) {
            throw new IllegalArgumentException("dims and strides are required");
        }
        dims = dims.clone();
        strides = strides.clone();
        if (dims.length != strides.length) {
            throw new IllegalArgumentException("dims " + Arrays.toString(dims) + " and strides "
                    + Arrays.toString(strides) + " differ in rank");
        }
        if (dims.length < 1 || dims.length > MAX_DIMS) {
            throw new IllegalArgumentException("a view has 1 to " + MAX_DIMS + " dims, got " + dims.length);
        }
        if (offset < 0) {
            throw new IllegalArgumentException("negative offset " + offset);
        }
        long last = offset;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] < 1) {
                throw new IllegalArgumentException("dims must be at least 1: " + Arrays.toString(dims));
            }
            if (strides[i] < 0) {
                throw new IllegalArgumentException("strides must not be negative: " + Arrays.toString(strides));
            }
            last += (dims[i] - 1) * strides[i];
        }
        if (last >= buffer.elements()) {
            throw new IllegalArgumentException("view at offset " + offset + " dims " + Arrays.toString(dims)
                    + " strides " + Arrays.toString(strides) + " reaches element " + last + " of a buffer of "
                    + buffer.elements());
        }
    }

    /** A contiguous row-major {@code [rows, columns]} matrix from {@code offset}. */
    public static View matrix(NativeBuffer buffer, long offset, long rows, long columns) {
        return new View(buffer, offset, new long[] {rows, columns}, new long[] {columns, 1});
    }

    /**
     * A {@code [rows, columns]} matrix whose rows are {@code rowStride} elements apart (a column block of a wider
     * row-major matrix: {@code rowStride} is the wider matrix's width).
     */
    public static View matrix(NativeBuffer buffer, long offset, long rows, long columns, long rowStride) {
        return new View(buffer, offset, new long[] {rows, columns}, new long[] {rowStride, 1});
    }

    /** A contiguous row-major tensor of any rank from {@code offset}. */
    public static View contiguous(NativeBuffer buffer, long offset, long... dims) {
        return new View(buffer, offset, dims, rowMajorStrides(dims));
    }

    /** A vector {@code [n]} (a bias, say). */
    public static View vector(NativeBuffer buffer, long offset, long n) {
        return new View(buffer, offset, new long[] {n}, new long[] {1});
    }

    /**
     * The heads of a row-major {@code [batch·time, rowStride]} matrix as {@code [batch, heads, time, headDim]}:
     * head {@code h} of row {@code b·time + t} is the {@code headDim} elements from column {@code h·headDim} (plus
     * {@code offset}). Strides {@code [time·rowStride, headDim, rowStride, 1]}.
     *
     * <p>For a fused projection {@code qkv [B·T, 3d]}: q, k, v are {@code heads(qkv, 0 | d | 2d, B, H, T, d/H, 3d)};
     * for an attention output {@code y [B·T, d]} it is {@code heads(y, 0, B, H, T, d/H, d)}.
     */
    public static View heads(NativeBuffer buffer, long offset, long batch, long heads, long time, long headDim,
                             long rowStride) {
        return new View(buffer, offset, new long[] {batch, heads, time, headDim},
                new long[] {time * rowStride, headDim, rowStride, 1});
    }

    /** Row-major strides of {@code dims}. */
    public static long[] rowMajorStrides(long... dims) {
        long[] s = new long[dims.length];
        long n = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            s[i] = n;
            n *= dims[i];
        }
        return s;
    }

    /** Swaps the last two dims and their strides (no copy). */
    public View transposed() {
        int r = dims.length;
        if (r < 2) {
            throw new IllegalArgumentException("cannot transpose a view of rank " + r);
        }
        long[] d = dims.clone();
        long[] s = strides.clone();
        swap(d, r - 2, r - 1);
        swap(s, r - 2, r - 1);
        return new View(buffer, offset, d, s);
    }

    private static void swap(long[] a, int i, int j) {
        long t = a[i];
        a[i] = a[j];
        a[j] = t;
    }

    /** A copy of the dims. */
    @Override
    public long[] dims() {
        return dims.clone();
    }

    /** A copy of the strides. */
    @Override
    public long[] strides() {
        return strides.clone();
    }

    public int rank() {
        return dims.length;
    }

    /** Size of dim {@code i}; negative {@code i} counts from the end. */
    public long dim(int i) {
        return dims[i < 0 ? dims.length + i : i];
    }

    /** Stride of dim {@code i}; negative {@code i} counts from the end. */
    public long stride(int i) {
        return strides[i < 0 ? strides.length + i : i];
    }

    /** Number of logical elements (product of the dims). */
    public long size() {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        return n;
    }

    public ElementType type() {
        return buffer.type();
    }

    /** Address of element (0, 0, …). */
    public long address() {
        return buffer.address() + offset * buffer.type().bytes;
    }

    /** Index in the buffer of the element at {@code index} (one coordinate per dim). */
    public long indexOf(long... index) {
        if (index.length != dims.length) {
            throw new IllegalArgumentException("need " + dims.length + " coordinates, got " + index.length);
        }
        long at = offset;
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= dims[i]) {
                throw new IndexOutOfBoundsException("coordinate " + i + " is " + index[i] + ", dim " + dims[i]);
            }
            at += index[i] * strides[i];
        }
        return at;
    }

    /** Whether the view is dense row-major (strides exactly {@link #rowMajorStrides}). */
    public boolean isContiguous() {
        return Arrays.equals(strides, rowMajorStrides(dims));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof View v && v.buffer == buffer && v.offset == offset && Arrays.equals(v.dims, dims)
                && Arrays.equals(v.strides, strides);
    }

    @Override
    public int hashCode() {
        return (System.identityHashCode(buffer) * 31 + Long.hashCode(offset)) * 31 * 31 + Arrays.hashCode(dims) * 31
                + Arrays.hashCode(strides);
    }

    /** For messages: {@code f32[2, 3, 5, 4] strides [60, 4, 12, 1] @7}. */
    @Override
    public String toString() {
        return buffer.type().name().toLowerCase(java.util.Locale.ROOT) + Arrays.toString(dims) + " strides "
                + Arrays.toString(strides) + " @" + offset;
    }
}

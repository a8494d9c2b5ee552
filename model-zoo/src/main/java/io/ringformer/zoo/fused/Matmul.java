package io.ringformer.zoo.fused;

import static org.bytedeco.dnnl.global.dnnl.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.bytedeco.dnnl.const_dnnl_op_desc_t;
import org.bytedeco.dnnl.dnnl_matmul_desc_t;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_post_ops;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;

/**
 * One oneDNN matmul primitive bound to fixed memory at construction: C = A·B (+ bias) (+ C when accumulate).
 *
 * <p>Shapes: {@code A [..., M, K] · B [..., K, N] = C [..., M, N]} with 2 to 12 dims, the same rank for all
 * three. Batch dims (all but the last two) of A and B equal C's or are 1 (broadcast). Any view will do —
 * transposed ({@link View#transposed()}), a column block of a wider matrix, the heads of a fused projection
 * ({@link View#heads}) — as long as no two elements of C share memory, and C overlaps neither A nor B.
 *
 * <p>Types: all {@link ElementType#F32}, or A and B {@link ElementType#BF16} with C F32 (products accumulated in
 * fp32). The bias, if any, is F32 {@code [N]} or {@code [1, N]} (or {@code [1, …, 1, N]} of C's rank), added to
 * every row. With {@code accumulate}, the product (plus bias) is added to what C holds (oneDNN's sum post-op);
 * without it C is overwritten.
 *
 * <p>Layouts, as found with oneDNN 2.5.2 on an AVX-512 CPU: contiguous row-major operands and transposed views
 * of them get the fast blocked kernels ({@code brg:avx512_core}, {@code brg:avx512_core_bf16}, AMX where the CPU
 * has it). Any other strided view whose last or second-to-last dim has stride 1 — column blocks, the heads of a
 * fused projection, a C written into heads — is accepted but runs on the gemm-based kernel ({@code gemm:jit}):
 * as fast in 2-D, 0.6–0.9× as fast in the batched attention products ({@code [12,4,64,32]·[12,4,32,64]}).
 * A C that is column-major (stride 1 in its second-to-last dim) or has no unit stride, and an A or B with no unit
 * stride in its last two dims, leave oneDNN with only its reference kernel ({@code ref:any}, about a thousand
 * times slower): {@code of} refuses those with an IllegalArgumentException naming the shapes;
 * {@link #ofAnyKernel} accepts them.
 *
 * <p>oneDNN picks the kernel itself ({@link #implementation()} names it; AMX on CPUs that have it, AVX-512 bf16
 * dot products on CPUs with AVX512-BF16). {@link #run()} allocates nothing on the Java heap; the primitive's
 * scratchpad is allocated once here.
 */
public final class Matmul implements AutoCloseable {

    private final View a;
    private final View b;
    private final View bias;
    private final View c;
    private final boolean accumulate;
    private final BoundPrimitive primitive;

    private Matmul(View a, View b, View bias, View c, boolean accumulate, BoundPrimitive primitive) {
        this.a = a;
        this.b = b;
        this.bias = bias;
        this.c = c;
        this.accumulate = accumulate;
        this.primitive = primitive;
    }

    /**
     * Builds the primitive for {@code c = a·b (+ bias) (+ c if accumulate)}.
     *
     * @param bias nullable; F32 {@code [N]} or {@code [1, N]}
     * @throws IllegalArgumentException if the shapes or types do not fit, or oneDNN has no implementation for
     *                                  these layouts, or only its reference kernel (the message names the shapes
     *                                  and oneDNN's status or kernel)
     * @throws IllegalStateException    if oneDNN is not available ({@link Dnnl#unavailableReason()})
     */
    public static Matmul of(View a, View b, View bias, View c, boolean accumulate) {
        return create(a, b, bias, c, accumulate, false);
    }

    /**
     * Like {@link #of}, but also accepts layouts for which oneDNN has only its reference kernel ({@code ref:any}:
     * a C that is column-major or has no unit stride, an operand with no unit stride in its last two dims). That
     * kernel is correct but some hundred times slower; meant for tests and odd one-off products.
     */
    public static Matmul ofAnyKernel(View a, View b, View bias, View c, boolean accumulate) {
        return create(a, b, bias, c, accumulate, true);
    }

    private static Matmul create(View a, View b, View bias, View c, boolean accumulate, boolean allowReference) {
        validate(a, b, bias, c);
        Dnnl.requireAvailable();
        Dnnl.pinCurrentThread();
        String what = describe(a, b, bias, c, accumulate);
        List<dnnl_memory_desc_t> owned = new ArrayList<>();
        dnnl_matmul_desc_t op = new dnnl_matmul_desc_t();
        dnnl_primitive_attr attr = null;
        try {
            dnnl_memory_desc_t aMd = own(owned, BoundPrimitive.desc(a, "A"));
            dnnl_memory_desc_t bMd = own(owned, BoundPrimitive.desc(b, "B"));
            dnnl_memory_desc_t cMd = own(owned, BoundPrimitive.desc(c, "C"));
            dnnl_memory_desc_t biasMd = null;
            if (bias != null) {
                int r = c.rank();
                long[] dims = new long[r];
                long[] strides = new long[r];
                Arrays.fill(dims, 1);
                long n = c.dim(-1);
                long step = bias.stride(-1);
                dims[r - 1] = n;
                strides[r - 1] = step;
                for (int i = 0; i < r - 1; i++) {
                    strides[i] = n * Math.max(step, 1);
                }
                biasMd = own(owned, BoundPrimitive.desc(dims, strides, bias.type(), "bias"));
            }
            int status = dnnl_matmul_desc_init(op, aMd, bMd, biasMd, cMd);
            if (status != dnnl_success) {
                throw new IllegalArgumentException("oneDNN rejects " + what + ": dnnl_matmul_desc_init: "
                        + Dnnl.statusName(status));
            }
            attr = BoundPrimitive.userScratchpadAttr();
            if (accumulate) {
                dnnl_post_ops ops = new dnnl_post_ops();
                Dnnl.check(dnnl_post_ops_create(ops), "dnnl_post_ops_create");
                try {
                    Dnnl.check(dnnl_post_ops_append_sum(ops, 1.0f), "dnnl_post_ops_append_sum");
                    Dnnl.check(dnnl_primitive_attr_set_post_ops(attr, ops), "dnnl_primitive_attr_set_post_ops");
                } finally {
                    dnnl_post_ops_destroy(ops);
                }
            }
            dnnl_primitive_desc pd = new dnnl_primitive_desc();
            status = dnnl_primitive_desc_create(pd, new const_dnnl_op_desc_t(op), attr, Dnnl.engine(), null);
            if (status != dnnl_success) {
                throw new IllegalArgumentException("oneDNN has no matmul for " + what + ": "
                        + Dnnl.statusName(status));
            }
            String kernel = BoundPrimitive.implementation(pd);
            if (!allowReference && kernel.startsWith("ref")) {
                dnnl_primitive_desc_destroy(pd);
                throw new IllegalArgumentException("oneDNN has only its slow reference kernel (" + kernel + ") for "
                        + what + ": give C (and A, B) a unit stride in one of the last two dims and C row-major"
                        + " rows (stride 1 in the last dim), e.g. write C contiguous and Reorder it, or use"
                        + " Matmul.ofAnyKernel");
            }
            int n = bias == null ? 3 : 4;
            int[] kinds = new int[n];
            dnnl_memory_desc_t[] descs = new dnnl_memory_desc_t[n];
            long[] addresses = new long[n];
            kinds[0] = DNNL_ARG_SRC;
            descs[0] = aMd;
            addresses[0] = a.address();
            kinds[1] = DNNL_ARG_WEIGHTS;
            descs[1] = bMd;
            addresses[1] = b.address();
            kinds[2] = DNNL_ARG_DST;
            descs[2] = cMd;
            addresses[2] = c.address();
            NativeBuffer[] touched;
            if (bias != null) {
                kinds[3] = DNNL_ARG_BIAS;
                descs[3] = biasMd;
                addresses[3] = bias.address();
                touched = new NativeBuffer[] {a.buffer(), b.buffer(), c.buffer(), bias.buffer()};
            } else {
                touched = new NativeBuffer[] {a.buffer(), b.buffer(), c.buffer()};
            }
            BoundPrimitive p = new BoundPrimitive("Matmul " + what, pd, kinds, descs, addresses, touched);
            return new Matmul(a, b, bias, c, accumulate, p);
        } finally {
            if (attr != null) {
                dnnl_primitive_attr_destroy(attr);
            }
            op.close();
            for (dnnl_memory_desc_t md : owned) {
                md.close();
            }
        }
    }

    private static dnnl_memory_desc_t own(List<dnnl_memory_desc_t> owned, dnnl_memory_desc_t md) {
        owned.add(md);
        return md;
    }

    private static void validate(View a, View b, View bias, View c) {
        if (a == null || b == null || c == null) {
            throw new IllegalArgumentException("A, B and C are required (only the bias may be null)");
        }
        String shapes = "A " + a + ", B " + b + ", C " + c;
        int r = c.rank();
        if (r < 2 || a.rank() != r || b.rank() != r) {
            throw new IllegalArgumentException("Matmul needs A, B and C of one rank ≥ 2: " + shapes);
        }
        long m = a.dim(-2);
        long k = a.dim(-1);
        long n = b.dim(-1);
        if (b.dim(-2) != k) {
            throw new IllegalArgumentException("Matmul: A has " + k + " columns but B has " + b.dim(-2)
                    + " rows: " + shapes);
        }
        if (c.dim(-2) != m || c.dim(-1) != n) {
            throw new IllegalArgumentException("Matmul: C must be [..., " + m + ", " + n + "]: " + shapes);
        }
        for (int i = 0; i < r - 2; i++) {
            long ab = a.dim(i);
            long bb = b.dim(i);
            long cb = c.dim(i);
            boolean fits = (ab == cb || ab == 1) && (bb == cb || bb == 1) && cb == Math.max(ab, bb);
            if (!fits) {
                throw new IllegalArgumentException("Matmul: batch dim " + i + " is " + ab + " in A, " + bb
                        + " in B and " + cb + " in C (A and B must match C or be 1): " + shapes);
            }
        }
        boolean f32 = a.type() == ElementType.F32 && b.type() == ElementType.F32;
        boolean bf16 = a.type() == ElementType.BF16 && b.type() == ElementType.BF16;
        if (!(f32 || bf16) || c.type() != ElementType.F32) {
            throw new IllegalArgumentException("Matmul supports f32·f32→f32 and bf16·bf16→f32, got " + shapes);
        }
        if (bias != null) {
            if (bias.type() != ElementType.F32) {
                throw new IllegalArgumentException("Matmul: the bias must be f32, got " + bias);
            }
            boolean ok = bias.dim(-1) == n;
            for (int i = 0; i < bias.rank() - 1; i++) {
                ok &= bias.dim(i) == 1;
            }
            ok &= bias.rank() == 1 || bias.rank() == 2 || bias.rank() == r;
            if (!ok) {
                throw new IllegalArgumentException("Matmul: the bias must be [" + n + "] or [1, " + n + "], got "
                        + bias + " for " + shapes);
            }
        }
        for (int i = 0; i < r; i++) {
            if (c.stride(i) == 0 && c.dim(i) > 1) {
                throw new IllegalArgumentException("Matmul: C has stride 0 in dim " + i
                        + " (elements would share memory): " + c);
            }
        }
    }

    private static String describe(View a, View b, View bias, View c, boolean accumulate) {
        return "C " + c + (accumulate ? " += " : " = ") + "A " + a + " · B " + b
                + (bias == null ? "" : " + bias " + bias);
    }

    /** Executes {@code C = A·B (+ bias) (+ C)}; no Java allocation. */
    public void run() {
        primitive.run();
    }

    /** oneDNN's name for the kernel it chose (e.g. {@code brg:avx512_core_amx}, {@code gemm:jit}, {@code ref:any}). */
    public String implementation() {
        return primitive.implementation();
    }

    /** Size of this primitive's own scratchpad in bytes (0 if it needs none). */
    public long scratchpadBytes() {
        return primitive.scratchpadBytes();
    }

    /** Multiply-adds times 2: {@code 2·M·N·K·batch}. */
    public double flops() {
        double batch = c.size() / (double) (c.dim(-1) * c.dim(-2));
        return 2.0 * batch * c.dim(-2) * c.dim(-1) * a.dim(-1);
    }

    public View a() {
        return a;
    }

    public View b() {
        return b;
    }

    /** The bias, or null. */
    public View bias() {
        return bias;
    }

    public View c() {
        return c;
    }

    public boolean accumulates() {
        return accumulate;
    }

    /** Destroys the primitive and frees its scratchpad (the bound buffers stay). Idempotent. */
    @Override
    public void close() {
        primitive.close();
    }

    @Override
    public String toString() {
        return primitive.toString();
    }
}

package io.ringformer.zoo.fused;

import static org.bytedeco.dnnl.global.dnnl.*;

import java.util.Arrays;

import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;

/**
 * A bound oneDNN reorder, e.g. f32 → bf16 of the same logical shape (strides may differ).
 *
 * <p>Copies every element of {@code src} to the same coordinates of {@code dst}, converting the type (f32 → bf16
 * rounds to nearest even, as oneDNN's conversion does; bf16 → f32 is exact). The views must have equal dims;
 * their strides are free, so a reorder also transposes or gathers a column block.
 */
public final class Reorder implements AutoCloseable {

    private final View src;
    private final View dst;
    private final BoundPrimitive primitive;

    private Reorder(View src, View dst, BoundPrimitive primitive) {
        this.src = src;
        this.dst = dst;
        this.primitive = primitive;
    }

    /**
     * Builds the reorder {@code dst ← src}.
     *
     * @throws IllegalArgumentException if the dims differ or oneDNN has no reorder for these layouts
     * @throws IllegalStateException    if oneDNN is not available
     */
    public static Reorder of(View src, View dst) {
        if (src == null || dst == null) {
            throw new IllegalArgumentException("src and dst are required");
        }
        if (!Arrays.equals(src.dims(), dst.dims())) {
            throw new IllegalArgumentException("Reorder needs equal dims: src " + src + ", dst " + dst);
        }
        Dnnl.requireAvailable();
        Dnnl.pinCurrentThread();
        String what = "dst " + dst + " ← src " + src;
        dnnl_memory_desc_t srcMd = BoundPrimitive.desc(src, "src");
        dnnl_memory_desc_t dstMd = null;
        dnnl_primitive_attr attr = null;
        try {
            dstMd = BoundPrimitive.desc(dst, "dst");
            attr = BoundPrimitive.userScratchpadAttr();
            dnnl_primitive_desc pd = new dnnl_primitive_desc();
            int status = dnnl_reorder_primitive_desc_create(pd, srcMd, Dnnl.engine(), dstMd, Dnnl.engine(), attr);
            if (status != dnnl_success) {
                throw new IllegalArgumentException("oneDNN has no reorder for " + what + ": "
                        + Dnnl.statusName(status));
            }
            BoundPrimitive p = new BoundPrimitive("Reorder " + what, pd, new int[] {DNNL_ARG_FROM, DNNL_ARG_TO},
                    new dnnl_memory_desc_t[] {srcMd, dstMd}, new long[] {src.address(), dst.address()},
                    new NativeBuffer[] {src.buffer(), dst.buffer()});
            return new Reorder(src, dst, p);
        } finally {
            if (attr != null) {
                dnnl_primitive_attr_destroy(attr);
            }
            srcMd.close();
            if (dstMd != null) {
                dstMd.close();
            }
        }
    }

    /** Executes the copy; no Java allocation. */
    public void run() {
        primitive.run();
    }

    /** oneDNN's name for the kernel it chose. */
    public String implementation() {
        return primitive.implementation();
    }

    public View src() {
        return src;
    }

    public View dst() {
        return dst;
    }

    /** Destroys the primitive (the bound buffers stay). Idempotent. */
    @Override
    public void close() {
        primitive.close();
    }

    @Override
    public String toString() {
        return primitive.toString();
    }
}

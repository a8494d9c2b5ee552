package io.ringformer.zoo.fused;

import static org.bytedeco.dnnl.global.dnnl.*;

import java.lang.ref.Cleaner;
import java.util.Arrays;

import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * A oneDNN primitive with its memory objects, its own scratchpad and its execution arguments, all made once, so
 * that {@link #run()} is one {@code dnnl_primitive_execute} and one {@code dnnl_stream_wait}.
 *
 * <p>Scratchpads are user-managed ({@code dnnl_scratchpad_mode_user}): in oneDNN's default (library) mode an
 * execution may allocate and free its scratchpad every call; here each primitive owns one, allocated at
 * construction.
 */
final class BoundPrimitive implements AutoCloseable {

    private static final Cleaner CLEANER = Cleaner.create();

    /** A raw address as a JavaCPP pointer (for memory handles). */
    private static final class Address extends Pointer {
        Address(long address) {
            this.address = address;
        }
    }

    /** The native handles; destroyed by {@link #close()} or, failing that, when the owner becomes unreachable. */
    private static final class Handles implements Runnable {
        dnnl_primitive primitive;
        final dnnl_memory[] memories;
        dnnl_exec_arg_t args;

        Handles(int n) {
            memories = new dnnl_memory[n];
        }

        @Override
        public void run() {
            if (primitive != null && !primitive.isNull()) {
                dnnl_primitive_destroy(primitive);
            }
            primitive = null;
            for (int i = 0; i < memories.length; i++) {
                if (memories[i] != null && !memories[i].isNull()) {
                    dnnl_memory_destroy(memories[i]);
                }
                memories[i] = null;
            }
            if (args != null) {
                args.close();
                args = null;
            }
        }
    }

    private final String name;
    private final Cleaner.Cleanable cleanable;
    private final dnnl_primitive primitive;
    private final dnnl_stream stream;
    private final dnnl_exec_arg_t args;
    private final int argCount;
    /** Every buffer the primitive touches (kept reachable, checked for close before each run). */
    private final NativeBuffer[] buffers;
    private final String implementation;
    private final long scratchpadBytes;
    private Thread lastThread;
    private volatile boolean closed;

    /**
     * Takes ownership of {@code pd} (destroyed before returning, also on failure) and binds {@code argKinds[i]}
     * to memory of {@code descs[i]} at {@code addresses[i]}. The buffers are kept reachable and checked on each run.
     */
    BoundPrimitive(String name, dnnl_primitive_desc pd, int[] argKinds, dnnl_memory_desc_t[] descs,
                   long[] addresses, NativeBuffer[] touched) {
        this.name = name;
        this.stream = Dnnl.stream();
        Handles h = new Handles(argKinds.length + 1);
        NativeBuffer scratch = null;
        try {
            dnnl_memory_desc_t scratchMd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
            long scratchBytes = scratchMd == null || scratchMd.isNull() ? 0 : dnnl_memory_desc_get_size(scratchMd);
            int n = argKinds.length + (scratchBytes > 0 ? 1 : 0);
            dnnl_exec_arg_t a = new dnnl_exec_arg_t(n);
            h.args = a;
            for (int i = 0; i < argKinds.length; i++) {
                h.memories[i] = memory(descs[i], addresses[i], name);
                a.position(i).arg(argKinds[i]).memory(h.memories[i]);
            }
            if (scratchBytes > 0) {
                scratch = NativeBuffer.allocateBytes(scratchBytes);
                h.memories[argKinds.length] = memory(scratchMd, scratch.address(), name);
                a.position(argKinds.length).arg(DNNL_ARG_SCRATCHPAD).memory(h.memories[argKinds.length]);
            }
            a.position(0);
            dnnl_primitive p = new dnnl_primitive();
            Dnnl.check(dnnl_primitive_create(p, pd), name + ": dnnl_primitive_create");
            h.primitive = p;
            this.implementation = implementation(pd);
            this.primitive = p;
            this.args = a;
            this.argCount = n;
            this.scratchpadBytes = scratchBytes;
        } catch (RuntimeException | Error e) {
            h.run();
            if (scratch != null) {
                scratch.close();
            }
            throw e;
        } finally {
            dnnl_primitive_desc_destroy(pd);
        }
        NativeBuffer[] all = Arrays.copyOf(touched, touched.length + (scratch == null ? 0 : 1));
        if (scratch != null) {
            all[touched.length] = scratch;
        }
        this.buffers = all;
        this.cleanable = CLEANER.register(this, h);
    }

    private static dnnl_memory memory(dnnl_memory_desc_t md, long address, String name) {
        dnnl_memory m = new dnnl_memory();
        Dnnl.check(dnnl_memory_create(m, md, Dnnl.engine(), new Address(address)), name + ": dnnl_memory_create");
        return m;
    }

    /** oneDNN's name of the implementation a primitive descriptor stands for. */
    static String implementation(dnnl_primitive_desc pd) {
        try (PointerPointer<BytePointer> out = new PointerPointer<>(1)) {
            if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, out) != dnnl_success) {
                return "?";
            }
            Pointer p = out.get(0);
            return p == null || p.isNull() ? "?" : new BytePointer(p).getString();
        }
    }

    /** A memory descriptor of plain layout with the given strides (in elements). */
    static dnnl_memory_desc_t desc(long[] dims, long[] strides, ElementType type, String what) {
        dnnl_memory_desc_t md = new dnnl_memory_desc_t();
        int status = dnnl_memory_desc_init_by_strides(md, dims.length, dims, dataType(type), strides);
        if (status != dnnl_success) {
            md.close();
            throw new IllegalArgumentException("oneDNN rejects the memory layout of " + what + " "
                    + type.name().toLowerCase(java.util.Locale.ROOT) + Arrays.toString(dims) + " strides "
                    + Arrays.toString(strides) + ": " + Dnnl.statusName(status));
        }
        return md;
    }

    static dnnl_memory_desc_t desc(View v, String what) {
        return desc(v.dims(), v.strides(), v.type(), what);
    }

    static int dataType(ElementType type) {
        return switch (type) {
            case F32 -> dnnl_f32;
            case BF16 -> dnnl_bf16;
        };
    }

    /** A new attribute with a user-managed scratchpad. */
    static dnnl_primitive_attr userScratchpadAttr() {
        dnnl_primitive_attr attr = new dnnl_primitive_attr();
        Dnnl.check(dnnl_primitive_attr_create(attr), "dnnl_primitive_attr_create");
        int status = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
        if (status != dnnl_success) {
            dnnl_primitive_attr_destroy(attr);
            Dnnl.check(status, "dnnl_primitive_attr_set_scratchpad_mode(user)");
        }
        return attr;
    }

    /** Executes and waits; allocates nothing on the Java heap. */
    void run() {
        if (closed) {
            throw new IllegalStateException(name + " is closed");
        }
        for (NativeBuffer b : buffers) {
            if (b.isClosed()) {
                throw new IllegalStateException(name + " is bound to a closed NativeBuffer");
            }
        }
        Thread t = Thread.currentThread();
        if (t != lastThread) {
            Dnnl.pinCurrentThread();
            lastThread = t;
        }
        int status = dnnl_primitive_execute(primitive, stream, argCount, args);
        if (status != dnnl_success) {
            throw new IllegalStateException(name + ": dnnl_primitive_execute failed: " + Dnnl.statusName(status));
        }
        status = dnnl_stream_wait(stream);
        if (status != dnnl_success) {
            throw new IllegalStateException(name + ": dnnl_stream_wait failed: " + Dnnl.statusName(status));
        }
    }

    /** oneDNN's name of the implementation it chose, e.g. {@code brg:avx512_core}. */
    String implementation() {
        return implementation;
    }

    long scratchpadBytes() {
        return scratchpadBytes;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        cleanable.clean();
        NativeBuffer scratch = buffers[buffers.length - 1];
        if (scratchpadBytes > 0) {
            scratch.close();
        }
    }

    @Override
    public String toString() {
        return name;
    }
}

package io.ringformer.zoo.fused;

import java.lang.reflect.Field;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Native memory for tensors: zero-filled, 64-byte aligned, freed by GC (or {@link #close()}).
 *
 * <p>The memory is a direct {@link ByteBuffer} of the JDK ({@code ByteBuffer.allocateDirect}, which zero-fills it),
 * over-allocated and sliced at the first 64-byte boundary. So it counts against
 * {@code -XX:MaxDirectMemorySize} (by default the heap's maximum), it is freed when this object and every view
 * obtained from {@link #bytes()} or {@link #slice} are unreachable, and one buffer holds at most
 * {@link #MAX_BYTES} (2 GiB − 128) bytes. Keep the {@code NativeBuffer} (or a {@link View} of it, or a
 * {@link Matmul} / {@link Reorder} bound to it) reachable for as long as native code may touch the memory: native
 * code sees only {@link #address()}.
 *
 * <p>{@link #close()} frees the memory at once. Any {@link ByteBuffer} view taken before must not be used after
 * that; primitives bound to a closed buffer refuse to run.
 */
public final class NativeBuffer implements AutoCloseable {

    private static final int ALIGNMENT = 64;
    /** Largest size: the padded size plus 63 must fit a ByteBuffer. */
    public static final long MAX_BYTES = Integer.MAX_VALUE - 2L * ALIGNMENT;
    private static final sun.misc.Unsafe UNSAFE;
    private static final long ADDRESS_FIELD_OFFSET;

    static {
        try {
            Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            UNSAFE = (sun.misc.Unsafe) f.get(null);
            ADDRESS_FIELD_OFFSET = UNSAFE.objectFieldOffset(Buffer.class.getDeclaredField("address"));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final ElementType type;
    private final long elements;
    /** The buffer as allocated (over-sized): the one {@code invokeCleaner} accepts. */
    private ByteBuffer root;
    /** The aligned part, exactly {@code elements * type.bytes} long, native byte order. */
    private ByteBuffer aligned;
    private final long address;
    private volatile boolean closed;

    private NativeBuffer(long elements, ElementType type) {
        long bytes = elements * type.bytes;
        this.type = type;
        this.elements = elements;
        long padded = (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        // alignedSlice rounds the start up and the end down to multiples of 64
        this.root = ByteBuffer.allocateDirect((int) (padded + ALIGNMENT - 1));
        ByteBuffer a = root.alignedSlice(ALIGNMENT);
        a.limit((int) bytes);
        this.aligned = a.slice().order(ByteOrder.nativeOrder());
        this.address = UNSAFE.getLong(aligned, ADDRESS_FIELD_OFFSET);
        if ((address & (ALIGNMENT - 1)) != 0) {
            throw new IllegalStateException("buffer at 0x" + Long.toHexString(address) + " is not 64-byte aligned");
        }
    }

    /**
     * Zero-filled native memory for {@code elements} elements of {@code type}.
     *
     * @throws IllegalArgumentException if {@code elements} is not positive or the buffer would exceed
     *                                  {@link #MAX_BYTES}
     */
    public static NativeBuffer allocate(long elements, ElementType type) {
        if (type == null) {
            throw new IllegalArgumentException("type is null");
        }
        if (elements <= 0) {
            throw new IllegalArgumentException("a buffer needs at least one element, got " + elements);
        }
        if (elements > MAX_BYTES / type.bytes) {
            throw new IllegalArgumentException(elements + " " + type + " elements exceed the " + MAX_BYTES
                    + "-byte limit of one NativeBuffer");
        }
        return new NativeBuffer(elements, type);
    }

    /** Scratch memory of at least {@code bytes} bytes (for oneDNN scratchpads). */
    static NativeBuffer allocateBytes(long bytes) {
        return allocate(Math.max(1, (bytes + 3) / 4), ElementType.F32);
    }

    public ElementType type() {
        return type;
    }

    public long elements() {
        return elements;
    }

    /** Size in bytes ({@code elements() * type().bytes}). */
    public long byteSize() {
        return elements * type.bytes;
    }

    /** Address of element 0 (64-byte aligned). */
    public long address() {
        return address;
    }

    /** Whether {@link #close()} has freed the memory. */
    public boolean isClosed() {
        return closed;
    }

    /** The whole buffer as a ByteBuffer of native byte order (a new view object each call: call once at setup). */
    public ByteBuffer bytes() {
        return live().duplicate().order(ByteOrder.nativeOrder());
    }

    /**
     * A view of elements [offset, offset+count) as a native-order ByteBuffer starting at index 0 (setup only).
     *
     * @throws IndexOutOfBoundsException if the range is not inside the buffer
     */
    public ByteBuffer slice(long offset, long count) {
        if (offset < 0 || count < 0 || offset + count > elements) {
            throw new IndexOutOfBoundsException("elements [" + offset + ", " + (offset + count)
                    + ") are outside a buffer of " + elements);
        }
        return live().slice((int) (offset * type.bytes), (int) (count * type.bytes)).order(ByteOrder.nativeOrder());
    }

    private ByteBuffer live() {
        ByteBuffer a = aligned;
        if (closed || a == null) {
            throw new IllegalStateException("NativeBuffer is closed");
        }
        return a;
    }

    /** Frees the memory now; idempotent. Views taken before must not be used afterwards. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        ByteBuffer r = root;
        root = null;
        aligned = null;
        UNSAFE.invokeCleaner(r);
    }

    @Override
    public String toString() {
        return "NativeBuffer[" + elements + " × " + type + (closed ? ", closed]" : "]");
    }
}

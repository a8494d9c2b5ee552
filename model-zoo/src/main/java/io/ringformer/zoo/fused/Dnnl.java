package io.ringformer.zoo.fused;

import static org.bytedeco.dnnl.global.dnnl.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;

import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.dnnl.dnnl_version_t;
import org.bytedeco.javacpp.Loader;

/**
 * The process-wide oneDNN CPU engine and stream, and whether oneDNN loads here.
 *
 * <p>oneDNN comes from JavaCPP's preset {@code org.bytedeco:dnnl:2.5.2-1.5.7} (classifier {@code linux-x86_64}),
 * loaded on first use. {@link #isAvailable()} never throws: if the native library cannot load (another OS or
 * architecture, a missing {@code org.bytedeco:opencl} jar, …) it returns false and {@link #unavailableReason()}
 * says why.
 *
 * <h2>Threads</h2>
 * What was found about this build (oneDNN v2.5.2, commit eba2e73) on this machine:
 * <ul>
 *   <li>It is built with {@code DNNL_CPU_THREADING_RUNTIME = DNNL_RUNTIME_OMP} against GNU OpenMP: the jar
 *       ships {@code libgomp.so.1} (and an unused {@code libtbb.so.2}, which the preset also preloads).
 *       nd4j-native ships its own {@code libgomp.so.1}; JavaCPP loads a library of a given name once per process,
 *       so whichever of ND4J or oneDNN loads first provides the only libgomp, and both share it (checked in
 *       {@code /proc/self/maps}: one libgomp mapping in either order). {@link #openMpRuntimes()} lists them.</li>
 *   <li>oneDNN 2.5 has no call to set its thread count in an OpenMP build ({@code dnnl_set_num_threads} does not
 *       exist; the threadpool interop calls are for threadpool builds only) and the preset does not bind
 *       {@code omp_set_num_threads}. oneDNN asks {@code omp_get_max_threads()}, both when a primitive is created
 *       (a matmul's blocking is planned for that many threads) and when it runs.</li>
 *   <li>{@code OMP_NUM_THREADS} is read once, when libgomp loads, and sets the default of every thread. Without
 *       it, on this 2-core machine {@code omp_get_max_threads()} is 2 and a 512³ matmul started a second (OpenMP
 *       worker) thread.</li>
 *   <li>{@code omp_set_num_threads(n)} changes the value for the <em>calling thread only</em> (an OpenMP ICV of
 *       that thread's implicit task): other Java threads keep the default.</li>
 *   <li>ND4J's {@code NativeOps.setOmpNumThreads(n)} is a plain {@code omp_set_num_threads(n)} in the shared
 *       libgomp. So {@link #pinCurrentThread()} calls it with 1 through ND4J. {@link Matmul} and {@link Reorder}
 *       call it on the thread that builds them and again whenever they run on a thread other than the last one,
 *       so oneDNN runs on one thread whatever {@code OMP_NUM_THREADS} says: a 512³ matmul on a thread pinned this
 *       way, with the variable unset, started no extra thread. The cost is initialising ND4J's native backend
 *       once (if nothing else has), which is skipped while {@code OMP_NUM_THREADS=1} says the same and ND4J,
 *       the one thing that changes it, is not loaded. {@code -Dringformer.dnnl.pinThreads=false} turns this off
 *       and leaves {@code OMP_NUM_THREADS} in charge. (The JDK 17 foreign-function API could call
 *       {@code omp_set_num_threads} directly, but only with {@code --add-modules jdk.incubator.foreign --enable-native-access=ALL-UNNAMED}.)
 *       </li>
 * </ul>
 *
 * <p>Primitives share the one stream: run them from one thread at a time (the trainer's worker thread).
 */
public final class Dnnl {

    /**
     * {@code OMP_NUM_THREADS=1} (what {@code launch/bin/ringformer} exports) already gives every thread a default
     * of one. Only ND4J changes a thread's count in this process, so until its native library is loaded
     * {@link #pinCurrentThread()} has nothing to do, and a fused run need not load ND4J's backend (about two
     * seconds of start-up) to do it.
     */
    private static final boolean PINNED_BY_ENVIRONMENT = "1".equals(System.getenv("OMP_NUM_THREADS"));
    private static volatile boolean nd4jSeen;

    /** Whether ND4J's native library is in this process (/proc/self/maps); once seen, always. */
    private static boolean nd4jLoaded() {
        if (!nd4jSeen) {
            try {
                nd4jSeen = Files.readString(Path.of("/proc/self/maps")).contains("libnd4jcpu");
            } catch (IOException | RuntimeException e) {
                nd4jSeen = true;                     // cannot tell: pin, as without the variable
            }
        }
        return nd4jSeen;
    }

    private Dnnl() {
    }

    /** Loaded on first use; never throws. */
    private static final class Native {
        static final dnnl_engine ENGINE;
        static final dnnl_stream STREAM;
        static final String REASON;

        static {
            dnnl_engine engine = null;
            dnnl_stream stream = null;
            String reason = null;
            try {
                Loader.load(org.bytedeco.dnnl.global.dnnl.class);
                engine = new dnnl_engine();
                check(dnnl_engine_create(engine, dnnl_cpu, 0), "dnnl_engine_create(cpu, 0)");
                stream = new dnnl_stream();
                check(dnnl_stream_create(stream, engine, dnnl_stream_default_flags), "dnnl_stream_create");
            } catch (Throwable t) {
                reason = "oneDNN did not load on " + System.getProperty("os.name") + "/"
                        + System.getProperty("os.arch") + ": " + t;
                engine = null;
                stream = null;
            }
            ENGINE = engine;
            STREAM = stream;
            REASON = reason;
        }
    }

    /** ND4J's native ops, through which {@code omp_set_num_threads} is reached; loaded on first use. */
    private static final class Threads {
        static final org.nd4j.nativeblas.NativeOps OPS;
        static final String REASON;

        static {
            org.nd4j.nativeblas.NativeOps ops = null;
            String reason = null;
            if (!Boolean.parseBoolean(System.getProperty("ringformer.dnnl.pinThreads", "true"))) {
                reason = "turned off by -Dringformer.dnnl.pinThreads=false";
            } else {
                try {
                    org.nd4j.linalg.factory.Nd4j.getBackend();
                    ops = org.nd4j.nativeblas.NativeOpsHolder.getInstance().getDeviceNativeOps();
                    TreeSet<String> runtimes = openMpRuntimes();
                    if (runtimes.size() > 1) {
                        reason = "ND4J and oneDNN loaded different OpenMP runtimes " + runtimes
                                + ": ND4J's omp_set_num_threads does not reach oneDNN";
                        ops = null;
                    }
                } catch (Throwable t) {
                    reason = "ND4J's native ops did not load: " + t;
                    ops = null;
                }
            }
            OPS = ops;
            REASON = reason;
        }
    }

    /** Whether oneDNN loaded and made its CPU engine and stream. Never throws. */
    public static boolean isAvailable() {
        return reason() == null;
    }

    /** Why oneDNN is not available, or null if it is. */
    public static String unavailableReason() {
        return reason();
    }

    private static String reason() {
        try {
            return Native.REASON;
        } catch (LinkageError e) {
            // the holder itself failed to link (e.g. the dnnl jar is missing from the class path)
            return "oneDNN classes did not load: " + e;
        }
    }

    /** The CPU engine (index 0). */
    public static dnnl_engine engine() {
        requireAvailable();
        return Native.ENGINE;
    }

    /** The stream every {@link Matmul} and {@link Reorder} runs on. */
    public static dnnl_stream stream() {
        requireAvailable();
        return Native.STREAM;
    }

    static void requireAvailable() {
        String reason = reason();
        if (reason != null) {
            throw new IllegalStateException(reason);
        }
    }

    /** oneDNN's version, e.g. {@code 2.5.2 (eba2e73…)}. */
    public static String version() {
        requireAvailable();
        dnnl_version_t v = dnnl_version();
        return v.major() + "." + v.minor() + "." + v.patch() + " (" + v.hash().getString() + ")";
    }

    /** The instruction set oneDNN's JIT targets on this CPU, e.g. {@code avx512_core_bf16}. */
    public static String cpuIsa() {
        requireAvailable();
        int isa = dnnl_get_effective_cpu_isa();
        if (isa == dnnl_cpu_isa_avx512_core_amx) {
            return "avx512_core_amx";
        } else if (isa == dnnl_cpu_isa_avx512_core_bf16) {
            return "avx512_core_bf16";
        } else if (isa == dnnl_cpu_isa_avx512_core_vnni) {
            return "avx512_core_vnni";
        } else if (isa == dnnl_cpu_isa_avx512_core) {
            return "avx512_core";
        } else if (isa == dnnl_cpu_isa_avx2_vnni) {
            return "avx2_vnni";
        } else if (isa == dnnl_cpu_isa_avx2) {
            return "avx2";
        } else if (isa == dnnl_cpu_isa_avx) {
            return "avx";
        } else if (isa == dnnl_cpu_isa_sse41) {
            return "sse41";
        }
        return "isa 0x" + Integer.toHexString(isa);
    }

    /**
     * Makes oneDNN use one thread when called from the current thread ({@code omp_set_num_threads(1)} through
     * ND4J's native ops; see the class comment). Does nothing if that route is not available
     * ({@link #threadControlProblem()} says why) — then only {@code OMP_NUM_THREADS=1} keeps oneDNN to one thread.
     */
    public static void pinCurrentThread() {
        if (PINNED_BY_ENVIRONMENT && !nd4jLoaded()) {
            return;                          // every thread's default is 1 and nothing has changed it: no ND4J needed
        }
        org.nd4j.nativeblas.NativeOps ops = ops();
        if (ops != null) {
            ops.setOmpNumThreads(1);
        }
    }

    /** Whether {@link #pinCurrentThread()} works here. */
    public static boolean canPinThreads() {
        return ops() != null;
    }

    /** Why {@link #pinCurrentThread()} does nothing, or null if it works. */
    public static String threadControlProblem() {
        try {
            return Threads.REASON;
        } catch (LinkageError e) {
            return "ND4J's classes did not load: " + e;
        }
    }

    private static org.nd4j.nativeblas.NativeOps ops() {
        try {
            return Threads.OPS;
        } catch (LinkageError e) {
            return null;
        }
    }

    /** {@code omp_get_max_threads()} as the current thread sees it, or -1 if it cannot be asked. */
    public static int maxThreadsOfCurrentThread() {
        org.nd4j.nativeblas.NativeOps ops = ops();
        return ops == null ? -1 : ops.ompGetMaxThreads();
    }

    /** Paths of the OpenMP runtimes mapped into this process (from /proc/self/maps; empty if unreadable). */
    public static TreeSet<String> openMpRuntimes() {
        TreeSet<String> found = new TreeSet<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int slash = line.indexOf('/');
                if (slash >= 0) {
                    String path = line.substring(slash);
                    String name = path.substring(path.lastIndexOf('/') + 1);
                    if (name.startsWith("libgomp") || name.startsWith("libiomp") || name.startsWith("libomp")) {
                        found.add(path);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or no procfs: nothing to report
        }
        return found;
    }

    /** Throws if {@code status} is not {@code dnnl_success}, naming the status and what was called. */
    static void check(int status, String what) {
        if (status != dnnl_success) {
            throw new IllegalStateException(what + " failed: " + statusName(status));
        }
    }

    /** The C API's name of a {@code dnnl_status_t}. */
    static String statusName(int status) {
        if (status == dnnl_success) {
            return "dnnl_success";
        } else if (status == dnnl_out_of_memory) {
            return "dnnl_out_of_memory";
        } else if (status == dnnl_invalid_arguments) {
            return "dnnl_invalid_arguments";
        } else if (status == dnnl_unimplemented) {
            return "dnnl_unimplemented";
        } else if (status == dnnl_iterator_ends) {
            return "dnnl_iterator_ends";
        } else if (status == dnnl_runtime_error) {
            return "dnnl_runtime_error";
        } else if (status == dnnl_not_required) {
            return "dnnl_not_required";
        }
        return "dnnl status " + status;
    }
}

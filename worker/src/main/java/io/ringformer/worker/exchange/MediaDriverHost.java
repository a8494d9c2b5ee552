package io.ringformer.worker.exchange;

import io.aeron.Aeron;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.agrona.concurrent.BackoffIdleStrategy;

/**
 * An embedded Aeron media driver owned by this process, for tests and local runs (a real deployment runs one
 * driver per host). One shared thread with a backoff idle strategy — it never busy-spins, which matters on a
 * machine with few cores — a directory of its own under {@code /dev/shm} that is deleted on start and on close
 * and that only its owner can enter (0700, the files in it at start 0600), and an MTU large enough for loopback UDP to run at speed (DESIGN.md §2).
 *
 * <p>The JVM needs {@code --add-exports java.base/jdk.internal.misc=ALL-UNNAMED} (Java 17+).
 */
public final class MediaDriverHost implements AutoCloseable {

    private static final AtomicInteger INSTANCES = new AtomicInteger();

    /**
     * Driver settings, validated here.
     *
     * @param directory      the aeron directory; null picks {@code /dev/shm/ringformer-<pid>-<n>}
     * @param mtuBytes       largest frame on UDP and IPC; a chunk of the ring is this less Aeron's 32-byte header
     * @param termBytes      length of one term of a publication's log buffer (each log costs 3 of them in
     *                       /dev/shm, and so does each image a subscription receives over UDP)
     * @param socketBufBytes UDP socket send and receive buffers, and the receiver window (capped at half a term);
     *                       the kernel caps it at {@code net.core.rmem_max}/{@code wmem_max}
     */
    public record Config(String directory, int mtuBytes, int termBytes, int socketBufBytes) {

        public static final int DEFAULT_MTU_BYTES = 8192;
        public static final int DEFAULT_TERM_BYTES = 4 << 20;
        public static final int DEFAULT_SOCKET_BUF_BYTES = 2 << 20;

        public Config {
            if (mtuBytes < 1024 || mtuBytes > 65504 || mtuBytes % 32 != 0) {
                throw new IllegalArgumentException("mtuBytes must be a multiple of 32 in [1024, 65504]: " + mtuBytes);
            }
            if (Integer.bitCount(termBytes) != 1 || termBytes < (64 << 10) || termBytes < 8 * mtuBytes) {
                throw new IllegalArgumentException(
                        "termBytes must be a power of two ≥ 64 KiB and ≥ 8 × mtuBytes: " + termBytes);
            }
            if (socketBufBytes < mtuBytes) {
                throw new IllegalArgumentException("socketBufBytes below one MTU: " + socketBufBytes);
            }
        }

        public static Config defaults() {
            return new Config(null, DEFAULT_MTU_BYTES, DEFAULT_TERM_BYTES, DEFAULT_SOCKET_BUF_BYTES);
        }

        public Config withMtuBytes(int mtuBytes) {
            return new Config(directory, mtuBytes, Math.max(termBytes, Integer.highestOneBit(8 * mtuBytes - 1) << 1),
                    socketBufBytes);
        }
    }

    private final MediaDriver driver;
    private final String directory;

    private MediaDriverHost(MediaDriver driver, String directory) {
        this.driver = driver;
        this.directory = directory;
    }

    public static MediaDriverHost start() {
        return start(Config.defaults());
    }

    public static MediaDriverHost start(Config config) {
        String directory = config.directory() != null ? config.directory()
                : new File(sharedMemoryRoot(), "ringformer-" + ProcessHandle.current().pid() + "-"
                        + INSTANCES.incrementAndGet()).getPath();
        int window = Math.min(config.socketBufBytes(), config.termBytes() / 2);
        createPrivate(Path.of(directory));
        MediaDriver.Context context = new MediaDriver.Context()
                .aeronDirectoryName(directory)
                .dirDeleteOnStart(false)                         // createPrivate did, and made it 0700
                .dirDeleteOnShutdown(true)
                .threadingMode(ThreadingMode.SHARED)
                .sharedIdleStrategy(new BackoffIdleStrategy(100, 100, 1_000, 1_000_000))
                .mtuLength(config.mtuBytes())
                .ipcMtuLength(config.mtuBytes())
                .publicationTermBufferLength(config.termBytes())
                .ipcTermBufferLength(config.termBytes())
                .socketRcvbufLength(config.socketBufBytes())
                .socketSndbufLength(config.socketBufBytes())
                .initialWindowLength(window)
                .warnIfDirectoryExists(false);
        MediaDriver driver = MediaDriver.launchEmbedded(context);
        restrict(Path.of(directory));
        return new MediaDriverHost(driver, directory);
    }

    private static final Set<PosixFilePermission> OWNER_DIRECTORY = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> OWNER_FILE = PosixFilePermissions.fromString("rw-------");

    /**
     * Deletes what a dead driver left at {@code directory} and creates it with mode 0700, so that no other user
     * can open the driver's files (its command-and-control file, the logs of every publication and image: the
     * gradients) — Aeron itself would create it with the umask's 0755.
     */
    private static void createPrivate(Path directory) {
        deleteRecursively(directory);
        try {
            Files.createDirectories(directory.toAbsolutePath().getParent());
            try {
                Files.createDirectory(directory, PosixFilePermissions.asFileAttribute(OWNER_DIRECTORY));
            } catch (UnsupportedOperationException e) {
                Files.createDirectory(directory);                 // not a POSIX file system
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create aeron directory " + directory, e);
        }
    }

    /**
     * Sets what the driver created at start to 0700 (directories) and 0600 (files). Log buffers created later
     * follow the umask, inside a directory only the owner can enter.
     */
    private static void restrict(Path directory) {
        List<Path> paths;
        try (Stream<Path> walk = Files.walk(directory)) {
            paths = walk.toList();
        } catch (IOException | UncheckedIOException e) {
            return;                                              // the directory's own mode stands
        }
        for (Path path : paths) {
            try {
                Files.setPosixFilePermissions(path, Files.isDirectory(path) ? OWNER_DIRECTORY : OWNER_FILE);
            } catch (IOException | UnsupportedOperationException e) {
                // went away meanwhile, or a file system without POSIX modes: the directory's mode stands
            }
        }
    }

    private static File sharedMemoryRoot() {
        File shm = new File("/dev/shm");
        return shm.isDirectory() && shm.canWrite() ? shm : new File(System.getProperty("java.io.tmpdir"));
    }

    /** The aeron directory clients connect through. */
    public String directory() {
        return directory;
    }

    /** A new Aeron client of this driver; the caller closes it (before closing this host). */
    public Aeron connect() {
        return Aeron.connect(new Aeron.Context().aeronDirectoryName(directory));
    }

    /** Stops the driver and deletes its directory (Aeron deletes it too; this makes sure). */
    @Override
    public void close() {
        try {
            driver.close();
        } finally {
            deleteRecursively(Path.of(directory));
        }
    }

    private static void deleteRecursively(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path dir, IOException failure) throws IOException {
                    Files.deleteIfExists(dir);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("could not delete aeron directory " + root, e);
        }
    }
}

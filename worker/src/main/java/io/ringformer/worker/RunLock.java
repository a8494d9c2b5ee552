package io.ringformer.worker;

import io.ringformer.protocol.InputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Consumer;

/**
 * The one process that writes a run directory holds its lock: {@code <run>/.lock}, a file holding
 * {@code pid@host}, locked with {@link FileChannel#tryLock()} for as long as the process runs. Only the writer
 * takes it: a single-process {@code train}, or rank 0 of a job.
 *
 * <ol>
 *   <li>The OS lock is held by another process (or this one): refused at once, naming the holder's pid and host
 *       from the file.</li>
 *   <li>The OS lock is free and the file is empty or missing: taken.</li>
 *   <li>The OS lock is free but the file names a holder: the OS releases a lock when its process dies, so the
 *       holder crashed. When it names this host and that process is gone, the lock is taken over with one line
 *       saying so. When the process still runs (a file system without working locks) it is refused; when it
 *       names another host, whose processes this one cannot see, it is refused too and the message says to delete
 *       the file once that run is known to be over.</li>
 * </ol>
 * {@link #close} releases the lock and deletes the file.
 */
public final class RunLock implements AutoCloseable {

    /** A run directory another process is writing. */
    public static final class HeldException extends InputException {
        HeldException(String message) {
            super(message);
        }
    }

    private static final String FILE = ".lock";

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;

    private RunLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /** This process as the lock file names it. */
    public static String self() {
        return ProcessHandle.current().pid() + "@" + host();
    }

    /** Takes the lock of {@code runDirectory} (creating the directory), or throws {@link HeldException}. */
    public static RunLock acquire(Path runDirectory, Consumer<String> log) {
        Path file = runDirectory.resolve(FILE);
        FileChannel channel = null;
        try {
            Files.createDirectories(runDirectory);
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // this JVM holds it already
            }
            String holder = read(channel);
            if (lock == null) {
                throw held(runDirectory, holder.isEmpty() ? "another process" : holder, "");
            }
            if (!holder.isEmpty() && !holder.equals(self())) {
                int at = holder.indexOf('@');
                String host = at < 0 ? "" : holder.substring(at + 1);
                long pid = parsePid(at < 0 ? holder : holder.substring(0, at));
                if (!host.equals(host())) {
                    lock.release();
                    throw held(runDirectory, holder, "; if that run is over, delete " + file);
                }
                if (pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    lock.release();
                    throw held(runDirectory, holder, " (its lock file is not locked: does this file system "
                            + "support locks?)");
                }
                log.accept("run directory " + runDirectory + ": taking over the lock of " + holder
                        + ", which is no longer running");
            }
            channel.truncate(0);
            channel.write(ByteBuffer.wrap((self() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
            channel.force(true);
            return new RunLock(file, channel, lock);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new UncheckedIOException("cannot lock run directory " + runDirectory + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    @Override
    public void close() {
        try {
            Files.deleteIfExists(file);
            lock.release();
            channel.close();
        } catch (IOException e) {
            // the OS releases the lock with the process anyway
        }
    }

    private static HeldException held(Path runDirectory, String holder, String hint) {
        return new HeldException("run directory " + runDirectory + " is in use by " + describe(holder) + hint
                + "; wait for that run to end, or choose another --out");
    }

    private static String describe(String holder) {
        int at = holder.indexOf('@');
        return at < 0 ? holder : "pid " + holder.substring(0, at) + " on host " + holder.substring(at + 1);
    }

    private static String read(FileChannel channel) throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate((int) Math.min(channel.size(), 1024));
        channel.read(bytes, 0);
        return new String(bytes.array(), 0, bytes.position(), StandardCharsets.UTF_8).strip();
    }

    private static long parsePid(String text) {
        try {
            return Long.parseLong(text.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                // nothing to add to the error already under way
            }
        }
    }
}

package io.ringformer.worker.exchange;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.agrona.BufferUtil;
import org.agrona.IoUtil;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

/**
 * All-reduce among P ranks on one host through one memory-mapped file (under the shared media driver's directory
 * in /dev/shm): no network, no log buffers, and each value crosses memory the fewest times a heap gradient allows.
 * DESIGN.md §2 measured this route at 4× gloo with the gradient kept in the file and 2× with copies in and out.
 *
 * <h2>The file</h2>
 * One file per generation, named from a hash of the job, the generation number and the members' endpoints (every
 * worker process has inbox streams of its own, so a file left by an earlier incarnation of the same job never has
 * the name of a new one). Rank 0 creates it (written under a temporary name, then renamed into place) and deletes
 * it when its generation ends; the owner of the shared media driver deletes the whole directory with the driver, so
 * a rank that was killed leaves nothing behind. Layout, native byte order:
 * <pre>
 * header  (one page)   magic, job hash, generation, world size, slot floats; then per rank, 64 bytes apart:
 *                      contributed round, reduced round, step, length
 * slot 0 … slot P−1    each rank's contribution, slotFloats values
 * result               the sum, slotFloats values
 * </pre>
 *
 * <h2>One all-reduce, step by step</h2>
 * A buffer longer than a slot runs as several rounds over consecutive pieces; a round is:
 * <ol>
 *   <li><b>Contribute.</b> Rank r copies its piece into slot r, writes the step and length beside its tags, and
 *       publishes round k in its {@code contributed} tag (a release store: the values are visible before the tag).</li>
 *   <li><b>Reduce its share.</b> It waits until every rank's {@code contributed} tag reads k, checks that every rank
 *       is at the same step with the same length, and sums its 1/P of the piece across the slots in rank order
 *       0 … P−1 into the result region. Every value of the result is summed by one rank in one order, so all ranks
 *       read the same bits. It then publishes k in its {@code reduced} tag.</li>
 *   <li><b>Read the result.</b> It waits until every {@code reduced} tag reads k and copies the result into its
 *       buffer.</li>
 * </ol>
 * Tags are compared for equality, never "at least": no rank can be a round ahead of a rank still waiting on its
 * tag (rank j publishes {@code contributed} = k+1 only after every rank reduced round k, which the waiter has not
 * finished; and {@code reduced} = k+1 only after every rank contributed k+1), so equality is exact and a stale
 * value never passes for a current one. The result region is safe to overwrite in round k+1 because every rank
 * has contributed to k+1, so every rank has finished reading round k.
 *
 * <p>A {@link HierarchicalAllReduce} uses the two halves apart: {@link #reduceToRankZero} (only rank 0 reads the
 * sum) and {@link #broadcastFromRankZero}, whose round is the same handshake with rank 0 alone writing the result
 * region: every rank publishes {@code contributed = k} (it has read round k−1), rank 0 waits for all, writes, and
 * publishes {@code reduced = k}; the others wait for rank 0's tag and read.
 *
 * <h2>Liveness</h2>
 * Every wait backs off (spin, yield, then park up to 200 µs: never a busy spin on a machine with as many ranks as
 * cores), and on every turn reads the newest generation this rank has heard of (its ZooKeeper watch) and gives up
 * with a {@link GenerationChangedException} once there is a newer one, exactly as the ring does: a dead member
 * aborts a shared-memory round through the elastic protocol, not through a barrier timeout. {@code timeoutMs}
 * bounds every call as the last resort ({@link ExchangeTimeoutException}), and a rank that mapped the file of a
 * generation that never got going (its rank 0 left first) is released the same way.
 *
 * <p>Not thread-safe: one thread calls {@link #allReduce}.
 */
public final class SharedMemoryAllReduce implements GradientExchange {

    /**
     * Where the files of a shared media driver's all-reduces live: inside its directory, which the driver's owner
     * deletes with it.
     */
    public static Path directoryOf(String aeronDirectory) {
        return Path.of(aeronDirectory, "exchange");
    }

    /**
     * What a worker publishes as its shared memory ({@code WorkerInfo.sharedMemory}): the kernel's boot id and the
     * directory. Two workers with the same value map the same files; network-namespace "hosts" on one machine share
     * the boot id but each has its own driver directory, and two machines never share a boot id.
     */
    public static String domainOf(Path directory) {
        String machine;
        try {
            machine = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
        } catch (IOException e) {
            machine = "host " + hostName();                // not Linux: the host name must do
        }
        return machine + ":" + directory.toAbsolutePath().normalize();
    }

    private static String hostName() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** Values per slot: pieces longer than this run in several rounds. 64 MB per slot, paged in only as used. */
    public static final int DEFAULT_SLOT_FLOATS = 16 << 20;

    private static final long MAGIC = 0x52465348_4D303031L;        // "RFSHM001"
    private static final int PAGE = 4096;
    private static final int TAG_STRIDE = 64;
    private static final int CONTRIBUTED = 0;
    private static final int REDUCED = 8;
    private static final int STEP = 16;
    private static final int LENGTH = 24;
    private static final long FILE_WAIT_TIMEOUT_MS = 30_000;
    private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final long FLOAT_BASE = UnsafeApi.arrayBaseOffset(float[].class);

    /**
     * @param directory       where the generation's file lives (a tmpfs directory every rank can open)
     * @param jobId           the job; its hash is in the file's header and name
     * @param generation      the membership generation
     * @param rank            this rank
     * @param worldSize       P
     * @param endpoints       the members' endpoints in rank order (they name the file, see the class comment)
     * @param timeoutMs       the most one {@link #allReduce} may take
     * @param slotFloats      values per slot
     */
    public record Config(Path directory, String jobId, long generation, int rank, int worldSize,
                         List<String> endpoints, long timeoutMs, int slotFloats) {

        public Config {
            Objects.requireNonNull(directory, "directory");
            Objects.requireNonNull(jobId, "jobId");
            endpoints = List.copyOf(endpoints);
            if (worldSize < 1 || rank < 0 || rank >= worldSize) {
                throw new IllegalArgumentException("rank " + rank + " is not in a world of " + worldSize);
            }
            if (endpoints.size() != worldSize) {
                throw new IllegalArgumentException(endpoints.size() + " endpoints for a world of " + worldSize);
            }
            if (timeoutMs <= 0 || slotFloats < SPECIES.length()) {
                throw new IllegalArgumentException("timeoutMs " + timeoutMs + " and slotFloats " + slotFloats
                        + " must be positive (slots of at least one vector)");
            }
            if (headerBytes(worldSize) > PAGE * 64) {
                throw new IllegalArgumentException("a world of " + worldSize + " is too large for one file");
            }
        }

        /** The generation's file. */
        public Path file() {
            long hash = RingFrame.jobHash(jobId + "\n" + generation + "\n" + String.join("\n", endpoints));
            return directory.resolve(String.format("allreduce-g%d-%016x.shm", generation, hash));
        }
    }

    private final Config config;
    private final FileChannel channel;
    private final MappedByteBuffer header;
    private final MappedByteBuffer[] slots;
    private final MappedByteBuffer result;
    private final long[] slotAddresses;
    private final long resultAddress;
    private final LongSupplier newestGeneration;
    private final IdleStrategy idle = new BackoffIdleStrategy(100, 100, 1_000, 200_000);
    private long round;
    private boolean closed;

    /**
     * Opens (rank 0: creates) the generation's file. Rank 0 returns at once; the others wait, bounded and giving
     * up on a newer generation, until rank 0's file is there.
     */
    public SharedMemoryAllReduce(Config config, LongSupplier newestGeneration) {
        this.config = config;
        this.newestGeneration = Objects.requireNonNull(newestGeneration, "newestGeneration");
        Path file = config.file();
        long slotBytes = (long) config.slotFloats() * Float.BYTES;
        long headerBytes = headerBytes(config.worldSize());
        try {
            Files.createDirectories(config.directory());
            channel = config.rank() == 0 ? create(file, headerBytes + slotBytes * (config.worldSize() + 1))
                    : awaitFile(file);
            header = channel.map(FileChannel.MapMode.READ_WRITE, 0, headerBytes);
            header.order(ByteOrder.nativeOrder());
            checkHeader(file);
            slots = new MappedByteBuffer[config.worldSize()];
            slotAddresses = new long[config.worldSize()];
            for (int r = 0; r < config.worldSize(); r++) {
                MappedByteBuffer slot = channel.map(FileChannel.MapMode.READ_WRITE, headerBytes + r * slotBytes, slotBytes);
                slot.order(ByteOrder.nativeOrder());
                slots[r] = slot;
                slotAddresses[r] = BufferUtil.address(slot);
            }
            result = channel.map(FileChannel.MapMode.READ_WRITE, headerBytes + config.worldSize() * slotBytes, slotBytes);
            result.order(ByteOrder.nativeOrder());
            resultAddress = BufferUtil.address(result);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the shared-memory exchange " + file + ": " + e.getMessage(), e);
        }
    }

    private static long headerBytes(int worldSize) {
        long bytes = TAG_STRIDE * (1L + worldSize);
        return (bytes + PAGE - 1) / PAGE * PAGE;
    }

    private FileChannel create(Path file, long bytes) throws IOException {
        Path temporary = file.resolveSibling(file.getFileName() + ".new");
        try (FileChannel fresh = FileChannel.open(temporary, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            fresh.truncate(0);
            fresh.write(ByteBuffer.allocate(1), bytes - 1);       // sparse: tmpfs pages come as they are touched
            ByteBuffer head = ByteBuffer.allocate(40).order(ByteOrder.nativeOrder());
            head.putLong(MAGIC).putLong(RingFrame.jobHash(config.jobId())).putLong(config.generation())
                    .putInt(config.worldSize()).putInt(config.slotFloats()).flip();
            fresh.write(head, 0);
        }
        try {
            Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING);
        }
        return FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    private FileChannel awaitFile(Path file) throws IOException {
        long waitMs = Math.max(FILE_WAIT_TIMEOUT_MS, config.timeoutMs());
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
        while (true) {
            try {
                return FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            } catch (NoSuchFileException e) {
                giveUpIfReplaced(-1);
                if (System.nanoTime() - deadline > 0) {
                    throw new ExchangeTimeoutException(config.rank(), -1, "opening " + file,
                            "rank 0 to create the generation's shared-memory file", waitMs);
                }
                idle.idle(0);
            }
        }
    }

    private void checkHeader(Path file) {
        if (header.getLong(0) != MAGIC || header.getLong(8) != RingFrame.jobHash(config.jobId())
                || header.getLong(16) != config.generation() || header.getInt(24) != config.worldSize()
                || header.getInt(28) != config.slotFloats()) {
            throw new IllegalStateException(file + " is not this generation's shared-memory exchange (job '"
                    + config.jobId() + "', generation " + config.generation() + ", " + config.worldSize()
                    + " ranks): delete it, or give each job its own media driver directory");
        }
    }

    public Config config() {
        return config;
    }

    @Override
    public int rank() {
        return config.rank();
    }

    @Override
    public int worldSize() {
        return config.worldSize();
    }

    @Override
    public void allReduce(float[] buffer, long step) {
        inRounds(buffer, step, Round.SUM_TO_ALL);
    }

    /**
     * As {@link #allReduce}, but only rank 0 reads the sum into its buffer; the others' buffers are left as they
     * were. The first half of a {@link HierarchicalAllReduce}: rank 0 carries the host's sum on.
     */
    public void reduceToRankZero(float[] buffer, long step) {
        inRounds(buffer, step, Round.SUM_TO_RANK_ZERO);
    }

    /** Replaces every rank's {@code buffer} with rank 0's. */
    public void broadcastFromRankZero(float[] buffer, long step) {
        inRounds(buffer, step, Round.BROADCAST);
    }

    /** What a call's rounds do (a constant, not a lambda: a step's all-reduce allocates nothing). */
    private enum Round { SUM_TO_ALL, SUM_TO_RANK_ZERO, BROADCAST }

    /** Runs {@code kind} rounds over consecutive slot-sized pieces of {@code buffer} (one empty round for an empty one). */
    private void inRounds(float[] buffer, long step, Round kind) {
        if (closed) {
            throw new IllegalStateException("this shared-memory exchange is closed");
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.timeoutMs());
        int slotFloats = config.slotFloats();
        int offset = 0;
        do {
            int length = Math.min(slotFloats, buffer.length - offset);
            switch (kind) {
                case SUM_TO_ALL -> reduceRound(buffer, offset, length, step, true, deadline);
                case SUM_TO_RANK_ZERO -> reduceRound(buffer, offset, length, step, config.rank() == 0, deadline);
                case BROADCAST -> broadcastRound(buffer, offset, length, step, deadline);
            }
            offset += slotFloats;
        } while (offset < buffer.length);
    }

    private void reduceRound(float[] buffer, int offset, int length, long step, boolean readResult, long deadline) {
        long k = ++round;
        int rank = config.rank();
        int world = config.worldSize();
        UnsafeApi.copyMemory(buffer, FLOAT_BASE + (long) offset * Float.BYTES, null, slotAddresses[rank],
                (long) length * Float.BYTES);
        publishContribution(k, step, buffer.length, offset);
        awaitAll(CONTRIBUTED, k, step, deadline, "contributions");
        checkInStep(step, buffer.length);
        int share = (length + world - 1) / world;
        int from = Math.min(length, rank * share);
        int to = Math.min(length, from + share);
        sum(from, to);
        LONGS.setRelease(header, tagsOf(rank) + REDUCED, k);

        awaitAll(REDUCED, k, step, deadline, "the other ranks' shares of the sum");
        if (readResult) {
            UnsafeApi.copyMemory(null, resultAddress, buffer, FLOAT_BASE + (long) offset * Float.BYTES,
                    (long) length * Float.BYTES);
        }
    }

    /**
     * A broadcast round: every rank says it is ready (it has read the previous round's result); rank 0 then writes
     * its piece into the result region and publishes {@code reduced = k}; the others read it. The same two tags as
     * a reduce round, so the class comment's argument for equality holds across both kinds of round.
     */
    private void broadcastRound(float[] buffer, int offset, int length, long step, long deadline) {
        long k = ++round;
        int rank = config.rank();
        publishContribution(k, step, buffer.length, offset);
        if (rank == 0) {
            awaitAll(CONTRIBUTED, k, step, deadline, "the ranks' readiness for the broadcast");
            checkInStep(step, buffer.length);
            UnsafeApi.copyMemory(buffer, FLOAT_BASE + (long) offset * Float.BYTES, null, resultAddress,
                    (long) length * Float.BYTES);
            LONGS.setRelease(header, tagsOf(0) + REDUCED, k);
        } else {
            awaitRank(0, REDUCED, k, step, deadline, "rank 0's broadcast");
            UnsafeApi.copyMemory(null, resultAddress, buffer, FLOAT_BASE + (long) offset * Float.BYTES,
                    (long) length * Float.BYTES);
        }
    }

    private static int tagsOf(int rank) {
        return TAG_STRIDE * (1 + rank);
    }

    /** Writes this rank's step and piece beside its tags, then releases {@code contributed = k}. */
    private void publishContribution(long k, long step, int total, int offset) {
        int tags = tagsOf(config.rank());
        header.putLong(tags + STEP, step);
        header.putLong(tags + LENGTH, ((long) total << 32) | (offset / config.slotFloats()));
        LONGS.setRelease(header, tags + CONTRIBUTED, k);
    }

    /** Every rank contributed the same step and piece as this one, or the ranks are out of step. */
    private void checkInStep(long step, int total) {
        int mine = tagsOf(config.rank());
        for (int r = 0; r < config.worldSize(); r++) {
            int theirs = tagsOf(r);
            if (header.getLong(theirs + STEP) != step || header.getLong(theirs + LENGTH) != header.getLong(mine + LENGTH)) {
                throw new IllegalStateException("rank " + r + " contributed step " + header.getLong(theirs + STEP)
                        + " (" + (header.getLong(theirs + LENGTH) >>> 32) + " values) to the all-reduce where rank "
                        + config.rank() + " contributed step " + step + " (" + total + " values): the ranks are out "
                        + "of step");
            }
        }
    }

    /** result[i] = slot 0[i] + slot 1[i] + … in rank order, for i in [from, to). */
    private void sum(int from, int to) {
        int world = config.worldSize();
        int lanes = SPECIES.length();
        int i = from;
        for (; i + lanes <= to; i += lanes) {
            long at = (long) i * Float.BYTES;
            FloatVector acc = FloatVector.fromByteBuffer(SPECIES, slots[0], (int) at, ByteOrder.nativeOrder());
            for (int r = 1; r < world; r++) {
                acc = acc.add(FloatVector.fromByteBuffer(SPECIES, slots[r], (int) at, ByteOrder.nativeOrder()));
            }
            acc.intoByteBuffer(result, (int) at, ByteOrder.nativeOrder());
        }
        for (; i < to; i++) {
            float acc = slots[0].getFloat(i * Float.BYTES);
            for (int r = 1; r < world; r++) {
                acc += slots[r].getFloat(i * Float.BYTES);
            }
            result.putFloat(i * Float.BYTES, acc);
        }
    }

    private void awaitAll(int tag, long k, long step, long deadline, String what) {
        for (int r = 0; r < config.worldSize(); r++) {
            awaitRank(r, tag, k, step, deadline, what);
        }
    }

    private void awaitRank(int r, int tag, long k, long step, long deadline, String what) {
        int at = tagsOf(r) + tag;
        idle.reset();
        while ((long) LONGS.getAcquire(header, at) != k) {
            giveUpIfReplaced(step);
            if (System.nanoTime() - deadline > 0) {
                throw new ExchangeTimeoutException(config.rank(), step, "shared-memory round " + k,
                        what + " (rank " + r + ")", config.timeoutMs());
            }
            idle.idle(0);
        }
    }

    private void giveUpIfReplaced(long step) {
        long newest = newestGeneration.getAsLong();
        if (newest > config.generation()) {
            throw new GenerationChangedException(config.rank(), step, config.generation(), newest);
        }
    }

    /** Unmaps the file; rank 0 deletes it. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        IoUtil.unmap(header);
        for (MappedByteBuffer slot : slots) {
            IoUtil.unmap(slot);
        }
        IoUtil.unmap(result);
        try {
            channel.close();
            if (config.rank() == 0) {
                Files.deleteIfExists(config.file());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + config.file() + ": " + e.getMessage(), e);
        }
    }
}

package io.ringformer.worker;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.exceptions.RegistrationException;
import io.ringformer.protocol.Generation;
import io.ringformer.worker.exchange.FrameMac;
import io.ringformer.worker.exchange.GenerationChangedException;
import io.ringformer.worker.exchange.GradientExchange;
import io.ringformer.worker.exchange.HierarchicalAllReduce;
import io.ringformer.worker.exchange.RingAllReduce;
import io.ringformer.worker.exchange.SharedMemoryAllReduce;
import io.ringformer.worker.exchange.Wire;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The gradient exchange of a worker whose job may gain and lose members: one all-reduce per generation, re-formed
 * whenever the coordinator writes a new one. Its form follows where the members are ({@link
 * Generation#sharedMemoryGroups}, one group per shared media driver) and {@code exchange.transport}: a {@link
 * SharedMemoryAllReduce} when all share one driver, a {@link HierarchicalAllReduce} when several hosts have several
 * members each, else a {@link RingAllReduce} over Aeron. All give up the same way when the generation changes ("the
 * ring" below means any of them). This is where ringformer's elastic protocol runs; here it is, once, step by step.
 *
 * <ol>
 *   <li><b>Detection.</b> A worker that dies loses its ephemeral znode: at once when its launcher sees the
 *       process exit and deletes the node ({@code train --workers N}), or when its ZooKeeper session expires
 *       (2 s sessions). The coordinator's watch fires and the leader writes generation g+1 with the survivors,
 *       in their old order (so rank 0 survives whenever it can), by a fenced compare-and-set.</li>
 *   <li><b>Abort.</b> Every worker watches the generation node ({@link io.ringformer.protocol.WorkerSession}); the
 *       watch hands the new generation to {@link #onGeneration}, which raises {@link #newestGeneration()}. The
 *       ring's duty cycle reads that number and abandons the in-flight all-reduce at once with a
 *       {@link GenerationChangedException}: nobody waits for {@code exchange.timeout_ms}, which stays the last
 *       resort against a peer that is alive but stuck. An all-reduce that had already completed counts.</li>
 *   <li><b>Regroup.</b> {@link #regroup} waits (bounded) for the newest generation that names this worker, closes
 *       the old ring and forms the new one from the generation's member order. A worker that the new generation
 *       leaves out (its session was lost, its host was cut off) waits to be admitted again as a joiner.</li>
 *   <li><b>Agree and resynchronise</b> ({@link Trainer#synchronise}). A torn ring can leave the survivors one step
 *       apart: a worker applies step s as soon as its own all-reduce of s completes, while a neighbour may still
 *       have been in the all-gather of s when the ring broke. Never more than one step: no all-reduce of s+1 can
 *       complete before every member has applied s, because every contribution to it is computed after
 *       applying s. So the first thing a new ring does is a tiny exact all-reduce in which each rank publishes
 *       its next step, a 64-bit hash of its whole state (parameters, AdamW moments, optimizer step, loss scale),
 *       its parameter count and whether it holds any state at all (a joiner does not). The source is the most
 *       advanced member, the lowest rank among equals. Any member whose state differs then receives the
 *       source's state in one exact all-reduce (fp32 on the wire; the others contribute −0.0, the identity of
 *       IEEE addition, so the sum is the source's bits), and a second agreement checks that every member now
 *       holds the same hash. A joiner is admitted by exactly this path; so is a rank that resumes a job without
 *       the checkpoint on its disk.</li>
 *   <li><b>Pause</b>, when the generation has fewer members than the job's minimum: the members still agree and
 *       resynchronise, rank 0 checkpoints, and they wait for the next generation (more workers, or the job failed by
 *       the coordinator's pause timeout) instead of training.</li>
 *   <li><b>Go on.</b> Every member continues from the source's next step with the same global batch re-split
 *       over the new world size (it is a function of (seed, step) only). Every step has been applied exactly
 *       once on every member: either the source applied it and the others took its result, or nobody applied
 *       it and the new world computes it again. A job that shrank or grew therefore ends where an uninterrupted
 *       single-process run ends, within fp32 rounding of the summation order.</li>
 * </ol>
 *
 * <p>Not thread-safe except {@link #onGeneration} and {@link #newestGeneration()}, which the ZooKeeper thread
 * calls.
 */
public final class ElasticExchange implements GradientExchange {

    private static final long PUBLICATION_CLASH_TIMEOUT_MS = 15_000;

    private final Aeron aeron;
    private final RingAllReduce.Inbox inbox;
    private final String job;
    private final String workerId;
    private final long timeoutMs;
    private final Wire wire;
    private final FrameMac mac;
    private final long admissionTimeoutMs;
    private final Consumer<String> log;
    private final Object lock = new Object();
    private volatile Generation latest;
    private volatile long newest;
    private String failure;
    private volatile Generation generation;      // volatile, as ring: the metrics thread reads both
    private final Path sharedMemory;
    private final String transport;
    private volatile GradientExchange ring;       // this generation's all-reduce: the Aeron ring or shared memory
    private ExclusivePublication publication;     // to the right neighbour, kept while it stays there
    private String publicationEndpoint;
    private long firstGeneration;
    private volatile int recoveries;             // regroups after the first: the metrics read it

    /**
     * @param mac                the code every frame carries, keyed from the job token ({@link FrameMac#ofToken})
     * @param admissionTimeoutMs the longest wait for a generation that names this worker
     * @param sharedMemory       where shared-memory all-reduces keep their files (inside the shared media driver's
     *                           directory, whose owner deletes it), or null when this worker has a driver of its own
     * @param transport          {@code exchange.transport}: auto, ring, shm or hierarchical
     */
    public ElasticExchange(Aeron aeron, RingAllReduce.Inbox inbox, String job, String workerId, long timeoutMs,
                           Wire wire, FrameMac mac, long admissionTimeoutMs, Path sharedMemory, String transport,
                           Consumer<String> log) {
        this.sharedMemory = sharedMemory;
        this.transport = transport;
        this.mac = mac;
        this.aeron = aeron;
        this.inbox = inbox;
        this.job = job;
        this.workerId = workerId;
        this.timeoutMs = timeoutMs;
        this.wire = wire;
        this.admissionTimeoutMs = admissionTimeoutMs;
        this.log = log;
    }

    /** A newer generation was written (ZooKeeper's thread): the ring in flight, if older, gives up at once. */
    public void onGeneration(Generation next) {
        synchronized (lock) {
            if (latest == null || next.number() > latest.number()) {
                latest = next;
                newest = failure == null ? next.number() : Long.MAX_VALUE;
                lock.notifyAll();
            }
        }
    }

    /**
     * The job failed (another worker's failure, say): the ring in flight gives up at once and {@link #regroup}
     * throws, naming the reason, instead of waiting for a generation that will not come.
     */
    public void jobFailed(String why) {
        synchronized (lock) {
            failure = why;
            newest = Long.MAX_VALUE;
            lock.notifyAll();
        }
    }

    /** The newest generation number this worker has heard of. */
    public long newestGeneration() {
        return newest;
    }

    /** The generation the current ring belongs to, or null before the first {@link #regroup}. */
    public Generation generation() {
        return generation;
    }

    /** Whether this worker's first generation was the job's first (it started with the job, not as a joiner). */
    public boolean foundingMember() {
        return firstGeneration == 1;
    }

    /**
     * Waits for the newest generation that names this worker and forms its ring; returns that generation.
     *
     * @throws IllegalStateException when no generation names this worker within the admission timeout
     */
    public Generation regroup() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(admissionTimeoutMs);
        Generation next;
        synchronized (lock) {
            while (true) {
                if (failure != null) {
                    throw new JobFailedException("job '" + job + "' failed: " + failure);
                }
                next = latest;
                boolean newer = next != null && (generation == null || next.number() > generation.number());
                if (newer && next.rankOf(workerId) >= 0) {
                    break;
                }
                long leftNs = deadline - System.nanoTime();
                if (leftNs <= 0) {
                    throw new IllegalStateException("worker " + workerId + " was not admitted to job '" + job
                            + "' within " + admissionTimeoutMs + " ms" + (next == null ? "; is its coordinator "
                            + "running, and are enough workers registered?" : " (the newest generation, "
                            + next.number() + ", does not name it)"));
                }
                TimeUnit.NANOSECONDS.timedWait(lock, leftNs);
            }
        }
        if (ring != null) {
            ring.close();
        }
        ring = null;
        int rank = next.rankOf(workerId);
        Form form = formOf(next);
        ring = switch (form) {
            case SHARED_MEMORY -> sharedMemory(next, groupOf(next, rank), rank);
            case HIERARCHICAL -> hierarchical(next, rank);
            case RING -> ring(next, rank, next.endpoints());
        };
        if (generation == null) {
            firstGeneration = next.number();
        } else {
            recoveries++;
        }
        generation = next;
        log.accept("worker " + workerId + ": rank " + rank + " of " + next.worldSize() + " in generation "
                + next.number() + (next.worldSize() > 1 ? ", " + form.describe(next) : "") + ", inbox "
                + next.endpoint(rank));
        return next;
    }

    /** The forms a generation's all-reduce takes. */
    private enum Form {
        RING, SHARED_MEMORY, HIERARCHICAL;

        String describe(Generation generation) {
            return switch (this) {
                case RING -> "Aeron ring";
                case SHARED_MEMORY -> "shared memory";
                case HIERARCHICAL -> "hierarchical over " + generation.sharedMemoryGroups().size()
                        + " hosts (shared memory within each, an Aeron ring among their leaders)";
            };
        }
    }

    /**
     * The form of {@code next}'s all-reduce. {@code auto}: shared memory when every member shares one media
     * driver's directory (this worker's), hierarchical when the members sit in several such groups and at least one
     * has more than one member, the ring otherwise (every member alone, or a world of one). {@code shm} and {@code
     * hierarchical} insist, and fail with the fix where they cannot be; {@code ring} always rings.
     */
    private Form formOf(Generation next) {
        List<List<Integer>> groups = next.sharedMemoryGroups();
        boolean oneGroup = groups.size() == 1 && sharedMemory != null;
        boolean someShare = groups.size() < next.worldSize();
        if (next.worldSize() == 1 || "ring".equals(transport)) {
            return Form.RING;
        }
        if ("shm".equals(transport) && !oneGroup) {
            throw new IllegalStateException("exchange.transport is shm but the members of generation " + next.number()
                    + " do not all share one media driver (shared memory " + next.sharedMemory() + "); use "
                    + "exchange.transport auto or ring, or run every worker with the same --aeron-dir");
        }
        if ("hierarchical".equals(transport) || !oneGroup && someShare) {
            List<String> leaders = groups.stream().map(g -> next.endpoint(g.get(0))).toList();
            if (groups.size() > 1 && leaders.stream().anyMatch(e -> e.startsWith("aeron:ipc"))) {
                throw new IllegalStateException("the members of generation " + next.number() + " sit on "
                        + groups.size() + " hosts, but some host's first member receives over IPC (endpoints "
                        + leaders + "), which other hosts cannot reach: start workers that share a host with "
                        + "others but must reach other hosts with --inbox udp");
            }
            return Form.HIERARCHICAL;
        }
        return oneGroup ? Form.SHARED_MEMORY : Form.RING;
    }

    private static List<Integer> groupOf(Generation next, int rank) {
        return next.sharedMemoryGroups().stream().filter(g -> g.contains(rank)).findFirst().orElseThrow();
    }

    /** The shared-memory all-reduce among {@code ranks} (of {@code next}), in which this worker is {@code rank}. */
    private SharedMemoryAllReduce sharedMemory(Generation next, List<Integer> ranks, int rank) {
        return new SharedMemoryAllReduce(new SharedMemoryAllReduce.Config(sharedMemory, job, next.number(),
                ranks.indexOf(rank), ranks.size(), ranks.stream().map(next::endpoint).toList(), timeoutMs,
                SharedMemoryAllReduce.DEFAULT_SLOT_FLOATS), this::newestGeneration);
    }

    private GradientExchange hierarchical(Generation next, int rank) throws InterruptedException {
        List<List<Integer>> groups = next.sharedMemoryGroups();
        List<Integer> mine = groupOf(next, rank);
        SharedMemoryAllReduce host = mine.size() > 1 ? sharedMemory(next, mine, rank) : null;
        GradientExchange leaders = mine.get(0) != rank ? null : ring(next, groups.indexOf(mine),
                groups.stream().map(g -> next.endpoint(g.get(0))).toList());
        return new HierarchicalAllReduce(rank, next.worldSize(), host, leaders);
    }

    /** The Aeron ring among {@code endpoints} (all members, or the hosts' leaders), in which this worker is {@code rank}. */
    private RingAllReduce ring(Generation next, int rank, List<String> endpoints) throws InterruptedException {
        RingAllReduce.Config config = new RingAllReduce.Config(job, next.number(), rank, endpoints.size(), endpoints,
                timeoutMs, wire, mac);
        return new RingAllReduce(aeron, inbox, config, this::newestGeneration,
                endpoints.size() == 1 ? null : publicationTo(endpoints.get((rank + 1) % endpoints.size())));
    }

    /**
     * The publication to {@code endpoint}, kept from an earlier ring when it led there too (the receiver then reads
     * on from the same image); the others are closed. Should the driver refuse a new one (a clash with one it still
     * keeps), it retries for a while.
     */
    private ExclusivePublication publicationTo(String endpoint) throws InterruptedException {
        ExclusivePublication kept = publication != null && publicationEndpoint.equals(endpoint) ? publication : null;
        if (kept != null) {
            return kept;
        }
        if (publication != null) {
            publication.close();
            publication = null;
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(PUBLICATION_CLASH_TIMEOUT_MS);
        while (true) {
            try {
                publication = aeron.addExclusivePublication(endpoint, RingAllReduce.Inbox.streamOf(endpoint));
                publicationEndpoint = endpoint;
                return publication;
            } catch (RegistrationException e) {
                if (System.nanoTime() - deadline > 0) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    /** This worker's rank; 0 before its first generation (a replica is built as a world of one). */
    @Override
    public int rank() {
        return ring == null ? 0 : ring.rank();
    }

    /** The world size; 1 before the first generation. */
    @Override
    public int worldSize() {
        return ring == null ? 1 : ring.worldSize();
    }

    @Override
    public void allReduce(float[] buffer, long step) {
        ring().allReduce(buffer, step);
    }

    @Override
    public void allReduceExact(float[] buffer, long step) {
        ring().allReduceExact(buffer, step);
    }

    private GradientExchange ring() {
        if (ring == null) {
            throw new IllegalStateException("worker " + workerId + " has no ring before its first generation");
        }
        return ring;
    }

    /** Generations this worker re-formed its exchange in after its first. Any thread. */
    public int recoveries() {
        return recoveries;
    }

    /** The current generation's dropped frames by reason. Any thread. */
    @Override
    public java.util.Map<String, Long> droppedFramesByReason() {
        GradientExchange now = ring;
        return now == null ? java.util.Map.of() : now.droppedFramesByReason();
    }

    @Override
    public boolean elastic() {
        return true;
    }

    @Override
    public void regroupAfter(GenerationChangedException change) {
        try {
            regroup();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while regrouping after: " + change.getMessage());
        }
    }

    @Override
    public boolean paused() {
        return generation != null && generation.paused();
    }

    @Override
    public void awaitChange() {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(admissionTimeoutMs);
        synchronized (lock) {
            while (newest <= generation.number()) {
                long leftNs = deadline - System.nanoTime();
                if (leftNs <= 0) {
                    throw new IllegalStateException("job '" + job + "' stayed paused (too few workers) for "
                            + admissionTimeoutMs + " ms and its coordinator did not end it; is it running?");
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(lock, leftNs);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while paused");
                }
            }
        }
        throw new GenerationChangedException(rank(), -1, generation.number(), newest);
    }


    @Override
    public void close() {
        if (ring != null) {
            ring.close();
        }
        if (publication != null) {
            publication.close();
        }
    }
}

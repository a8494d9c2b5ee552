package io.ringformer.coordinator;

import io.ringformer.protocol.CheckpointManifest;
import io.ringformer.protocol.Generation;
import io.ringformer.protocol.InputException;
import io.ringformer.protocol.JobSpec;
import io.ringformer.protocol.JobStatus;
import io.ringformer.protocol.JobStatusNode;
import io.ringformer.protocol.ProtocolException;
import io.ringformer.protocol.WorkerInfo;
import io.ringformer.protocol.ZkLayout;
import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.imps.CuratorFrameworkState;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.framework.state.ConnectionStateListener;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The coordinator of one job: it forms the generations. Any number of coordinators may run; a Curator {@link
 * LeaderLatch} on {@code coordinator} makes one the leader and the others standbys.
 *
 * <p>What the leader does, step by step (every step on its one "duty" thread, in order; every fact re-read from
 * ZooKeeper each time, so a coordinator that takes over knows exactly what its predecessor knew):
 * <ol>
 *   <li>Reads the {@link JobSpec} at {@code spec} (waiting, with a watch, until it is submitted).</li>
 *   <li>Lists {@code workers} with a watch, and admits the workers whose {@link WorkerInfo} carries the job token
 *       (others are refused and logged).</li>
 *   <li><b>Rendezvous</b> (no generation yet): once {@code minWorkers} are registered it waits {@code settleMs}
 *       for more, or not at all once {@code maxWorkers} are there; then writes generation 1: the workers sorted by
 *       id (the first {@code maxWorkers}), rank = position, the {@link ShardPlanner}'s plan, start step 0 (or the
 *       latest checkpoint's).</li>
 *   <li><b>Membership change</b> (a member's node vanished, or its endpoint changed — a restarted process —, or new
 *       workers registered): writes generation g+1. Survivors keep their relative order, so rank 0 is a worker that
 *       holds the parameters whenever any member survives; newcomers follow, sorted by id, up to {@code
 *       maxWorkers}. A departure is acted on at once; joiners alone are batched for {@code settleMs}. Below {@code
 *       minWorkers} the generation is written paused: its members make their states equal, checkpoint and wait;
 *       if no more workers register within the pause timeout, the job fails, saying how to resume. The start step is the
 *       most advanced of: the previous generation's start, the last step in {@code status} plus one, the latest
 *       checkpoint's step.</li>
 *   <li>Every write is a compare-and-set on the version it read, fenced by its own latch node ({@link
 *       GenerationNode}); on a stale version it reads again and decides again. Generation numbers never go back:
 *       a new leader continues from the number in ZooKeeper.</li>
 *   <li>Creates {@code status} (running) just before generation 1; once the status says finished or failed, it stops
 *       forming generations.</li>
 * </ol>
 *
 * <p>Connection states, explicitly, handled on Curator's thread so they take effect even while the duty thread is
 * waiting on ZooKeeper: SUSPENDED — stops acting at once (the latch also reports losing leadership), since another
 * coordinator may be elected if the session expires; LOST — the session and the latch node are gone: not the
 * leader until the latch is won again; RECONNECTED — the latch re-enters the election and, when it wins, this
 * coordinator re-reads everything and goes on. A decision already under way when the connection dropped can only
 * be written if its fence (the latch node it was read with) still holds, i.e. if this coordinator still leads.
 *
 * <p>The caller owns the Curator client: it starts it before {@link #start} and closes it after {@link #close}.
 */
public final class Coordinator implements Closeable {

    private static final Logger LOG = LoggerFactory.getLogger(Coordinator.class);
    private static final long NONE = Long.MIN_VALUE;
    private static final long RETRY_MS = 1000;

    /** How long a job may stay below its minimum of workers, by default, before it fails. */
    public static final long DEFAULT_PAUSE_TIMEOUT_MS = 60_000;

    private final long pauseTimeoutMs;
    private final CuratorFramework client;
    private final ZkLayout layout;
    private final String id;
    private final LeaderLatch latch;
    private final GenerationNode generations;
    private final JobStatusNode status;
    private final ScheduledExecutorService duty;
    private final Watcher changeWatcher = event -> {
        if (event.getType() != Watcher.Event.EventType.None) {
            submit(this::reconcile);
        }
    };
    private final ConnectionStateListener connectionListener = (c, state) -> onConnectionState(state);
    private final LeaderLatchListener leadership = new LeaderLatchListener() {
        @Override
        public void isLeader() {
            submit(Coordinator.this::takeLead);
        }

        @Override
        public void notLeader() {
            stepDown("the leader latch was lost");
        }
    };

    // Leadership is dropped at once from Curator's threads (even while the duty thread waits on ZooKeeper) and
    // taken only on the duty thread, after checking the latch.
    private volatile boolean leading;
    private final AtomicLong term = new AtomicLong();

    // Touched only on the duty thread.
    private long rendezvousDeadlineNs = NONE;
    private long joinDeadlineNs = NONE;
    private long pauseDeadlineNs = NONE;
    private final Set<String> refused = new HashSet<>();
    private boolean endLogged;

    private volatile boolean started;
    private volatile boolean closed;

    /**
     * @param client an unstarted or started Curator client (started before {@link #start})
     * @param layout the job's paths
     * @param id     this coordinator's name, for the latch and the logs (e.g. host:pid)
     */
    public Coordinator(CuratorFramework client, ZkLayout layout, String id) {
        this(client, layout, id, DEFAULT_PAUSE_TIMEOUT_MS);
    }

    /**
     * @param pauseTimeoutMs how long a job may stay below its minimum of workers before it fails
     */
    public Coordinator(CuratorFramework client, ZkLayout layout, String id, long pauseTimeoutMs) {
        this.pauseTimeoutMs = pauseTimeoutMs;
        this.client = Objects.requireNonNull(client, "client");
        this.layout = Objects.requireNonNull(layout, "layout");
        this.id = Objects.requireNonNull(id, "id");
        this.latch = new LeaderLatch(client, layout.coordinator(), id);
        this.generations = new GenerationNode(client, layout);
        this.status = new JobStatusNode(client, layout);
        this.duty = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "coordinator-" + id);
            thread.setDaemon(true);
            return thread;
        });
    }

    /**
     * Submits a job: creates its {@code spec}. Submitting the same spec again (same config hash and token) does
     * nothing; a different spec under an existing job name is an {@link InputException} (the person submitting
     * must pick another name).
     */
    public static void submit(CuratorFramework client, ZkLayout layout, JobSpec spec) throws Exception {
        try {
            client.create().creatingParentsIfNeeded().forPath(layout.spec(), spec.encode());
        } catch (KeeperException.NodeExistsException e) {
            JobSpec existing = JobSpec.decode(client.getData().forPath(layout.spec()));
            if (!existing.equals(spec)) {
                throw new InputException("job '" + layout.job() + "' already has a different spec (config "
                        + existing.configSha256() + "); pick another job name (--job)");
            }
        }
    }

    /** Joins the election; returns at once. The leader starts forming generations from its duty thread. */
    public void start() throws Exception {
        if (started) {
            throw new IllegalStateException("coordinator " + id + " already started");
        }
        if (client.getState() != CuratorFrameworkState.STARTED) {
            throw new IllegalStateException("start the Curator client before the coordinator");
        }
        started = true;
        ensurePath(layout.root());
        ensurePath(layout.workers());
        client.getConnectionStateListenable().addListener(connectionListener);
        latch.addListener(leadership);
        latch.start();
        LOG.info("coordinator {} joined the election for job {}", id, layout.job());
    }

    /** Whether this coordinator holds the leader latch right now. */
    public boolean isLeader() {
        return latch.hasLeadership();
    }

    /** Blocks until this coordinator holds the leader latch. */
    public void awaitLeadership() throws InterruptedException, IOException {
        latch.await();
    }

    public String id() {
        return id;
    }

    /** Leaves the election (a standby takes over at once) and stops. The client stays open. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        client.getConnectionStateListenable().removeListener(connectionListener);
        if (started) {
            // First out of the election, so a standby takes over at once; a write still in flight on the duty
            // thread fails its fence check.
            try {
                latch.close();
            } catch (IOException | RuntimeException e) {
                LOG.warn("coordinator {}: closing the leader latch failed ({}); it goes with the session", id,
                        e.toString());
            }
        }
        duty.shutdownNow();
        try {
            if (!duty.awaitTermination(5, TimeUnit.SECONDS)) {
                LOG.warn("coordinator {}: duty thread still busy after 5 s", id);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LOG.info("coordinator {} closed", id);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Leadership and connection states (duty thread)

    /** On the duty thread: starts a term if the latch is ours and the connection is up. */
    private void takeLead() throws Exception {
        if (closed || leading || !latch.hasLeadership() || !client.getZookeeperClient().isConnected()) {
            return;
        }
        leading = true;
        term.incrementAndGet();
        resetTerm();
        LOG.info("coordinator {} leads job {}", id, layout.job());
        reconcile();
    }

    /** On any thread: ends the term at once; a write already on its way fails its fence check. */
    private void stepDown(String why) {
        if (!leading) {
            return;
        }
        leading = false;
        term.incrementAndGet();
        LOG.warn("coordinator {} stopped leading job {}: {}", id, layout.job(), why);
    }

    private void resetTerm() {
        rendezvousDeadlineNs = NONE;
        joinDeadlineNs = NONE;
        pauseDeadlineNs = NONE;
        refused.clear();
        endLogged = false;
    }

    /** On Curator's thread, so that it acts even while the duty thread waits on ZooKeeper. */
    private void onConnectionState(ConnectionState state) {
        switch (state) {
            case CONNECTED -> LOG.info("coordinator {} connected to ZooKeeper", id);
            case SUSPENDED, READ_ONLY -> {
                LOG.warn("coordinator {}: ZooKeeper connection {}", id, state);
                stepDown("connection " + state + " (another coordinator may take over if the session expires)");
            }
            case LOST -> {
                LOG.warn("coordinator {}: ZooKeeper session lost", id);
                stepDown("session lost; not the leader until the latch is won again");
            }
            case RECONNECTED -> {
                LOG.info("coordinator {} reconnected to ZooKeeper", id);
                submit(this::takeLead); // if the latch is ours again; otherwise its isLeader() will say so later
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Forming generations (duty thread)

    /** A registered worker admitted to the job. */
    private record Candidate(String id, WorkerInfo info) {}

    private void reconcile() throws Exception {
        if (!leading || closed) {
            return;
        }
        Optional<JobSpec> spec = readSpec();
        if (spec.isEmpty()) {
            return;
        }
        Optional<JobStatus> jobStatus = status.read();
        if (jobStatus.isPresent() && jobStatus.get().ended()) {
            if (!endLogged) {
                endLogged = true;
                LOG.info("job {} is {}; no more generations", layout.job(), jobStatus.get().state().json());
            }
            return;
        }
        List<Candidate> present = readWorkers(spec.get());
        Optional<GenerationNode.Current> current = generations.read();
        List<Candidate> members = current.isEmpty()
                ? rendezvous(spec.get(), present)
                : change(spec.get(), current.get().generation(), present);
        if (members == null) {
            return;
        }
        boolean paused = members.size() < spec.get().minWorkers();
        if (!paused) {
            pauseDeadlineNs = NONE;
        }
        write(spec.get(), current, members, jobStatus, paused);
    }

    /** Generation 1's members, or null to keep waiting. */
    private List<Candidate> rendezvous(JobSpec spec, List<Candidate> present) {
        if (present.size() < spec.minWorkers()) {
            rendezvousDeadlineNs = NONE;
            LOG.info("rendezvous of job {}: {} of at least {} workers registered", layout.job(), present.size(),
                    spec.minWorkers());
            return null;
        }
        if (present.size() < spec.maxWorkers() && !windowClosed(true, spec.settleMs())) {
            return null;
        }
        List<Candidate> sorted = new ArrayList<>(present);
        sorted.sort(Comparator.comparing(Candidate::id));
        return sorted.subList(0, Math.min(sorted.size(), spec.maxWorkers()));
    }

    /**
     * Generation g+1's members, or null if nothing changes (yet). Fewer than {@code minWorkers} make a paused
     * generation: the members checkpoint and wait; if no more workers register within {@code pauseTimeoutMs}, the
     * job fails with a message saying how to resume.
     */
    private List<Candidate> change(JobSpec spec, Generation current, List<Candidate> present) throws Exception {
        if (pauseDeadlineNs != NONE && System.nanoTime() - pauseDeadlineNs >= 0) {
            String why = "only " + present.size() + " of at least " + spec.minWorkers() + " workers for "
                    + pauseTimeoutMs + " ms; the members checkpointed before they paused: start workers again "
                    + "and resume the job with --resume";
            LOG.error("job {} fails: {}", layout.job(), why);
            status.update(s -> s.withState(JobStatus.State.FAILED, why));
            return null;
        }
        Map<String, Candidate> byId = new LinkedHashMap<>();
        present.forEach(candidate -> byId.put(candidate.id(), candidate));
        List<Candidate> survivors = new ArrayList<>();
        for (int rank = 0; rank < current.worldSize(); rank++) {
            Candidate candidate = byId.get(current.members().get(rank));
            if (candidate != null && candidate.info().endpoint().equals(current.endpoint(rank))) {
                survivors.add(candidate);
            }
        }
        Set<String> surviving = new HashSet<>();
        survivors.forEach(candidate -> surviving.add(candidate.id()));
        List<Candidate> newcomers = new ArrayList<>();
        for (Candidate candidate : present) {
            if (!surviving.contains(candidate.id())) {
                newcomers.add(candidate);
            }
        }
        newcomers.sort(Comparator.comparing(Candidate::id));
        List<Candidate> admitted = newcomers.subList(0, Math.min(newcomers.size(),
                Math.max(0, spec.maxWorkers() - survivors.size())));
        boolean departed = survivors.size() < current.worldSize();
        if (!departed && admitted.isEmpty()) {
            joinDeadlineNs = NONE;
            return null;
        }
        if (!departed && survivors.size() + admitted.size() < spec.maxWorkers()
                && !windowClosed(false, spec.settleMs())) {
            return null; // joiners alone: wait a little for more of them
        }
        List<Candidate> members = new ArrayList<>(survivors);
        members.addAll(admitted);
        if (members.size() < spec.minWorkers()) {
            if (pauseDeadlineNs == NONE) {
                pauseDeadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(pauseTimeoutMs);
                schedule(pauseTimeoutMs);
                LOG.warn("job {}: {} of at least {} workers after generation {}; paused for at most {} ms until "
                        + "more register", layout.job(), members.size(), spec.minWorkers(), current.number(),
                        pauseTimeoutMs);
            }
            if (members.isEmpty()) {
                return null;   // nobody to pause; the deadline still ends the job
            }
        }
        return members;
    }

    /** Opens a settle window on first call, schedules a look when it closes, and says whether it has closed. */
    private boolean windowClosed(boolean rendezvous, long settleMs) {
        long now = System.nanoTime();
        long deadline = rendezvous ? rendezvousDeadlineNs : joinDeadlineNs;
        if (deadline == NONE) {
            deadline = now + TimeUnit.MILLISECONDS.toNanos(settleMs);
            if (rendezvous) {
                rendezvousDeadlineNs = deadline;
            } else {
                joinDeadlineNs = deadline;
            }
            schedule(settleMs);
        }
        return now - deadline >= 0;
    }

    private void write(JobSpec spec, Optional<GenerationNode.Current> current, List<Candidate> members,
                       Optional<JobStatus> jobStatus, boolean paused) throws Exception {
        String fence = latch.getOurPath(); // read before hasLeadership(): see GenerationNode on fencing
        if (fence == null || !latch.hasLeadership()) {
            stepDown("the latch is not ours any more");
            return;
        }
        if (!leading) {
            return;
        }
        if (jobStatus.isEmpty()) {
            status.update(s -> s); // running, before any worker can see generation 1
        }
        long number = current.map(c -> c.generation().number() + 1).orElse(1L);
        List<String> ids = members.stream().map(Candidate::id).toList();
        Generation next = new Generation(number, ids, members.stream().map(c -> c.info().endpoint()).toList(),
                members.stream().map(c -> c.info().sharedMemory()).toList(), ids.size(), startStep(current, jobStatus),
                ShardPlanner.plan(spec.globalBatch(), ids.size()), spec.jobToken(), paused);
        GenerationNode.Outcome outcome = current.isEmpty()
                ? generations.create(next, fence)
                : generations.replace(current.get(), next, fence);
        switch (outcome) {
            case WRITTEN -> {
                rendezvousDeadlineNs = NONE;
                joinDeadlineNs = NONE;
                LOG.info("job {}: generation {} — members {}, start step {}, plan {}", layout.job(), number, ids,
                        next.startStep(), next.plan());
                status.update(s -> s.withEvent("generation " + number + ": " + ids.size() + " worker(s)"
                        + (paused ? ", paused until more join" : "") + ", from step " + next.startStep()));
            }
            case STALE -> {
                LOG.info("job {}: the generation changed while coordinator {} decided; deciding again",
                        layout.job(), id);
                submit(this::reconcile);
            }
            case NOT_LEADER -> stepDown("its latch node is gone (session lost)");
        }
    }

    private long startStep(Optional<GenerationNode.Current> current, Optional<JobStatus> jobStatus)
            throws Exception {
        long step = current.map(c -> c.generation().startStep()).orElse(0L);
        if (jobStatus.isPresent()) {
            step = Math.max(step, jobStatus.get().lastStep() + 1);
        }
        try {
            byte[] manifest = client.getData().forPath(layout.latestCheckpoint());
            step = Math.max(step, CheckpointManifest.decode(manifest).step());
        } catch (KeeperException.NoNodeException e) {
            // no checkpoint yet
        } catch (ProtocolException e) {
            LOG.warn("job {}: ignoring the latest checkpoint manifest: {}", layout.job(), e.getMessage());
        }
        return step;
    }

    private Optional<JobSpec> readSpec() throws Exception {
        while (true) {
            byte[] bytes;
            try {
                bytes = client.getData().forPath(layout.spec());
            } catch (KeeperException.NoNodeException e) {
                if (client.checkExists().usingWatcher(changeWatcher).forPath(layout.spec()) == null) {
                    LOG.info("job {}: waiting for the job spec at {}", layout.job(), layout.spec());
                    return Optional.empty();
                }
                continue;
            }
            try {
                return Optional.of(JobSpec.decode(bytes));
            } catch (ProtocolException e) {
                LOG.error("job {}: the job spec is unreadable, the job fails: {}", layout.job(), e.getMessage());
                status.update(s -> s.withState(JobStatus.State.FAILED, e.getMessage()));
                return Optional.empty();
            }
        }
    }

    private List<Candidate> readWorkers(JobSpec spec) throws Exception {
        List<String> children;
        try {
            children = client.getChildren().usingWatcher(changeWatcher).forPath(layout.workers());
        } catch (KeeperException.NoNodeException e) {
            ensurePath(layout.workers());
            children = client.getChildren().usingWatcher(changeWatcher).forPath(layout.workers());
        }
        List<Candidate> admitted = new ArrayList<>();
        for (String child : children) {
            WorkerInfo info;
            try {
                info = WorkerInfo.decode(client.getData().forPath(layout.worker(child)));
            } catch (KeeperException.NoNodeException e) {
                continue; // left between the listing and the read
            } catch (ProtocolException | IllegalArgumentException e) {
                refuse(child, e.getMessage());
                continue;
            }
            if (!info.jobToken().equals(spec.jobToken())) {
                refuse(child, "its job token is not the job's");
                continue;
            }
            admitted.add(new Candidate(child, info));
        }
        return admitted;
    }

    private void refuse(String worker, String why) {
        if (refused.add(worker)) {
            LOG.warn("job {}: refusing worker {}: {}", layout.job(), worker, why);
        }
    }

    private void ensurePath(String path) throws Exception {
        try {
            client.create().creatingParentsIfNeeded().forPath(path, new byte[0]);
        } catch (KeeperException.NodeExistsException e) {
            // there already
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The duty thread

    private interface Task {
        void run() throws Exception;
    }

    private void submit(Task task) {
        try {
            duty.execute(() -> run(task));
        } catch (RejectedExecutionException e) {
            // closed
        }
    }

    /** Looks again after {@code delayMs}, if this coordinator still leads in the same term. */
    private void schedule(long delayMs) {
        long scheduledTerm = term.get();
        try {
            duty.schedule(() -> {
                if (term.get() == scheduledTerm) {
                    run(this::reconcile);
                }
            }, delayMs, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // closed
        }
    }

    private void run(Task task) {
        if (closed) {
            return;
        }
        try {
            task.run();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            if (!closed && leading) {
                LOG.warn("coordinator {}: {}; looking again in {} ms", id, e.toString(), RETRY_MS);
                schedule(RETRY_MS);
            }
        }
    }
}

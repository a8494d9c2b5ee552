package io.ringformer.protocol;

import java.io.Closeable;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.imps.CuratorFrameworkState;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.framework.state.ConnectionStateListener;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker's side of ZooKeeper: it registers the worker and hands it every new generation.
 *
 * <ol>
 *   <li>{@link #start}: creates the ephemeral node {@code workers/<id>} holding the {@link WorkerInfo}. If a node
 *       of that id is still held by another session (a previous incarnation of this worker killed moments ago),
 *       it waits for that session to expire — at most twice the session timeout plus a second — and otherwise
 *       fails: two live workers cannot share an id.</li>
 *   <li>It reads {@code generation} with a watch, and on every change reads it again. Each generation whose
 *       number is higher than the last one delivered, and whose job token is this worker's, goes to the {@link
 *       Listener} (in order, on this session's own thread, never two at once). A worker finds its rank with
 *       {@link Generation#rankOf}; -1 means it is not a member yet and waits for a later generation. Under rapid
 *       changes an intermediate generation may be skipped: only the newest matters.</li>
 *   <li>Connection states, explicitly: SUSPENDED — nothing changes yet (the node lives as long as the session);
 *       LOST — the session expired, so the node is gone and the coordinator will drop this worker from the next
 *       generation; RECONNECTED — registers again if the node is gone (under a new session) and re-reads the
 *       generation, re-arming the watch, which a new session does not keep.</li>
 *   <li>{@link #close}: deletes the node (a graceful leave: the coordinator writes the next generation without
 *       this worker at once) and stops. Closing the Curator client instead ends the session, which removes the
 *       node as well; so does the death of the process, after the session timeout.</li>
 * </ol>
 *
 * The caller owns the Curator client: it starts it before {@link #start} and closes it after {@link #close}.
 */
public final class WorkerSession implements Closeable {

    /** Receives each new generation, on the session's thread; it should return quickly. */
    @FunctionalInterface
    public interface Listener {
        void onGeneration(Generation generation);
    }

    private static final Logger LOG = LoggerFactory.getLogger(WorkerSession.class);

    private final CuratorFramework client;
    private final ZkLayout layout;
    private final String workerId;
    private final String path;
    private final Listener listener;
    private final ExecutorService events;
    private final ConnectionStateListener connectionListener = (c, state) -> onConnectionState(state);
    private final Watcher generationWatcher = event -> {
        if (event.getType() != Watcher.Event.EventType.None) {
            submit(this::refreshGeneration);
        }
    };

    private volatile WorkerInfo info;
    private volatile Generation generation;
    private volatile boolean started;
    private volatile boolean closed;

    public WorkerSession(CuratorFramework client, ZkLayout layout, String workerId, WorkerInfo info,
                         Listener listener) {
        this.client = Objects.requireNonNull(client, "client");
        this.layout = Objects.requireNonNull(layout, "layout");
        this.workerId = ZkLayout.requireName(workerId, "worker id");
        this.path = layout.worker(workerId);
        this.info = Objects.requireNonNull(info, "info");
        this.listener = Objects.requireNonNull(listener, "listener");
        this.events = Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "worker-session-" + workerId);
            thread.setDaemon(true);
            return thread;
        });
    }

    /**
     * Registers this worker and starts watching the generation. Blocks until registered; throws if ZooKeeper
     * cannot be reached within the client's connection timeout or another live session holds this worker id.
     */
    public void start() throws Exception {
        if (started) {
            throw new IllegalStateException("worker session " + workerId + " already started");
        }
        if (client.getState() != CuratorFrameworkState.STARTED) {
            throw new IllegalStateException("start the Curator client before the worker session");
        }
        started = true;
        client.getConnectionStateListenable().addListener(connectionListener, events);
        int connectMs = client.getZookeeperClient().getConnectionTimeoutMs();
        if (!client.blockUntilConnected(connectMs, TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("cannot reach ZooKeeper at "
                    + client.getZookeeperClient().getCurrentConnectionString() + " within " + connectMs + " ms");
        }
        register();
        submit(this::refreshGeneration);
    }

    public String workerId() {
        return workerId;
    }

    /** The newest generation delivered to the listener, if any. */
    public Optional<Generation> generation() {
        return Optional.ofNullable(generation);
    }

    /** Publishes a new state in this worker's node (kept for re-registrations too). */
    public void updateState(WorkerInfo.State state) throws Exception {
        info = info.withState(state);
        try {
            client.setData().forPath(path, info.encode());
        } catch (KeeperException.NoNodeException e) {
            LOG.warn("worker {} is not registered right now (session lost?); its state {} is published when it "
                    + "registers again", workerId, state.json());
        }
    }

    /** The job's status node, for rank 0 to report progress ({@link JobStatusNode#update}). */
    public JobStatusNode status() {
        return new JobStatusNode(client, layout);
    }

    /** Leaves the job: deletes this worker's node and stops delivering generations. The client stays open. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        client.getConnectionStateListenable().removeListener(connectionListener);
        events.shutdownNow();
        try {
            if (!events.awaitTermination(5, TimeUnit.SECONDS)) {
                LOG.warn("worker session {}: listener still running after 5 s", workerId);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (started && client.getState() == CuratorFrameworkState.STARTED) {
            try {
                Stat stat = client.checkExists().forPath(path);
                if (stat != null && stat.getEphemeralOwner() == sessionId()) {
                    client.delete().withVersion(stat.getVersion()).forPath(path);
                }
            } catch (Exception e) {
                LOG.warn("worker {}: could not delete {} on close ({}); it goes with the session", workerId, path,
                        e.toString());
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    /** Creates the ephemeral node, waiting for a stale one of the same id (a dead predecessor's) to expire. */
    private void register() throws Exception {
        long timeoutMs = 2L * client.getZookeeperClient().getZooKeeper().getSessionTimeout() + 1000;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!closed) {
            try {
                client.create().creatingParentsIfNeeded().withMode(CreateMode.EPHEMERAL).forPath(path, info.encode());
                LOG.info("worker {} registered at {}", workerId, path);
                return;
            } catch (KeeperException.NodeExistsException e) {
                CountDownLatch gone = new CountDownLatch(1);
                Stat stat = client.checkExists().usingWatcher((Watcher) event -> gone.countDown()).forPath(path);
                if (stat == null) {
                    continue;
                }
                if (stat.getEphemeralOwner() == sessionId()) {
                    client.setData().forPath(path, info.encode()); // ours already (a retried create)
                    return;
                }
                long leftNs = deadline - System.nanoTime();
                if (leftNs <= 0) {
                    throw new IllegalStateException("worker id '" + workerId + "' is registered by another live "
                            + "ZooKeeper session (0x" + Long.toHexString(stat.getEphemeralOwner()) + ") at " + path
                            + "; two workers cannot share an id");
                }
                LOG.info("worker {}: {} is still held by session 0x{} (a previous run?); waiting up to {} ms for "
                        + "it to expire", workerId, path, Long.toHexString(stat.getEphemeralOwner()), timeoutMs);
                gone.await(leftNs, TimeUnit.NANOSECONDS);
            }
        }
    }

    private void refreshGeneration() throws Exception {
        while (!closed) {
            byte[] bytes;
            try {
                bytes = client.getData().usingWatcher(generationWatcher).forPath(layout.generation());
            } catch (KeeperException.NoNodeException e) {
                if (client.checkExists().usingWatcher(generationWatcher).forPath(layout.generation()) == null) {
                    return; // no generation yet; the watch fires when the coordinator writes one
                }
                continue;
            }
            Generation next;
            try {
                next = Generation.decode(bytes);
            } catch (ProtocolException e) {
                LOG.error("worker {}: ignoring an unreadable generation: {}", workerId, e.getMessage());
                return;
            }
            if (!next.jobToken().equals(info.jobToken())) {
                LOG.error("worker {}: refusing generation {}: its job token is not this worker's (another job "
                        + "under the same name?)", workerId, next.number());
                return;
            }
            Generation last = generation;
            if (last == null || next.number() > last.number()) {
                generation = next;
                try {
                    listener.onGeneration(next);
                } catch (RuntimeException e) {
                    LOG.error("worker {}: the generation listener failed on generation {}", workerId, next.number(),
                            e);
                }
            }
            return;
        }
    }

    private void onConnectionState(ConnectionState state) {
        switch (state) {
            case CONNECTED -> {
                // the first connection: start() registers
            }
            case SUSPENDED, READ_ONLY -> LOG.warn("worker {}: ZooKeeper connection {}; still registered while the "
                    + "session lives", workerId, state);
            case LOST -> LOG.warn("worker {}: ZooKeeper session lost; {} is gone and the coordinator will drop this "
                    + "worker from the next generation; registering again once reconnected", workerId, path);
            case RECONNECTED -> {
                LOG.info("worker {}: reconnected to ZooKeeper", workerId);
                run(() -> {
                    Stat stat = client.checkExists().forPath(path);
                    if (stat == null || stat.getEphemeralOwner() != sessionId()) {
                        register();
                    }
                    refreshGeneration();
                });
            }
        }
    }

    private long sessionId() throws Exception {
        return client.getZookeeperClient().getZooKeeper().getSessionId();
    }

    private interface Task {
        void run() throws Exception;
    }

    private void submit(Task task) {
        if (closed) {
            return;
        }
        try {
            events.execute(() -> run(task));
        } catch (RejectedExecutionException e) {
            // closing
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
            if (!closed) {
                LOG.warn("worker {}: ZooKeeper operation failed ({}); retrying after the next reconnection or "
                        + "change", workerId, e.toString());
            }
        }
    }
}

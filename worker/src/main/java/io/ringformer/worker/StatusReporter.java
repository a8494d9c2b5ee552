package io.ringformer.worker;

import io.ringformer.protocol.CheckpointManifest;
import io.ringformer.protocol.CheckpointRegistry;
import io.ringformer.protocol.JobStatus;
import io.ringformer.protocol.JobStatusNode;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.data.Stat;

/**
 * A worker's view of the job's status node, on a thread of its own so that the step loop never waits on
 * ZooKeeper (a server restart, a slow ensemble). Progress coalesces: only the newest pending step is written. The
 * terminal reports ({@link #finish}, {@link #fail}) wait for their write, a bounded time. {@link #onFailure}
 * watches the node, so that a job another worker failed stops here too instead of waiting for a timeout.
 */
final class StatusReporter implements AutoCloseable {

    private static final long TERMINAL_WRITE_TIMEOUT_MS = 10_000;

    private record Progress(long step, double loss, double itemsPerSecond) {}

    private final JobStatusNode status;
    private final Consumer<String> log;
    private final ExecutorService writer = Executors.newSingleThreadExecutor(runnable -> {
        Thread thread = new Thread(runnable, "status-reporter");
        thread.setDaemon(true);
        return thread;
    });
    private final AtomicReference<Progress> pending = new AtomicReference<>();

    StatusReporter(JobStatusNode status, Consumer<String> log) {
        this.status = status;
        this.log = log;
    }

    /** Steps done, the last loss and the throughput; written soon, never waited for. */
    void progress(long steps, double loss, double itemsPerSecond) {
        if (pending.getAndSet(new Progress(steps, loss, itemsPerSecond)) == null) {
            submit(() -> {
                Progress p = pending.getAndSet(null);
                if (p != null) {
                    status.update(s -> s.withStep(p.step(), p.loss(), p.itemsPerSecond()));
                }
            });
        }
    }

    /** Publishes a checkpoint's manifest and names it in the status; never waited for. */
    void checkpoint(CheckpointRegistry registry, CheckpointManifest manifest) {
        submit(() -> {
            registry.publish(manifest);
            status.update(s -> s.withCheckpoint(manifest.directory()));
        });
    }

    /** The job is trained: finished, unless it already ended. Waits for the write. */
    void finish(long steps, double loss) {
        await(submit(() -> status.update(s -> s.withStep(steps, loss, s.itemsPerSecond())
                .withState(JobStatus.State.FINISHED, "trained to step " + steps))));
    }

    /** The job was stopped by a signal after {@code steps}; resumable. Waits for the write. */
    void stop(long steps) {
        await(submit(() -> status.update(s -> s.withState(JobStatus.State.STOPPED, "stopped by a signal after "
                + "step " + steps + "; continue with --resume"))));
    }

    /** This worker failed: the job fails with {@code why}, unless it already ended. Waits for the write. */
    void fail(String why) {
        await(submit(() -> status.update(s -> s.withState(JobStatus.State.FAILED, why))));
    }

    /** Calls {@code failed} with the reason once the job's status says failed (a watch, re-armed on each change). */
    void onFailure(CuratorFramework client, String statusPath, Consumer<String> failed) {
        Watcher watcher = event -> {
            if (event.getType() != Watcher.Event.EventType.None) {
                onFailure(client, statusPath, failed);
            }
        };
        submit(() -> {
            Stat exists = client.checkExists().usingWatcher(watcher).forPath(statusPath);
            if (exists == null) {
                return;
            }
            Optional<JobStatus> now = status.read();
            if (now.isPresent() && now.get().state() == JobStatus.State.FAILED) {
                failed.accept(now.get().detail());
            }
        });
    }

    private interface Write {
        void run() throws Exception;
    }

    private Future<?> submit(Write write) {
        try {
            return writer.submit(() -> {
                try {
                    write.run();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (Exception e) {
                    log.accept("could not update the job status in ZooKeeper: " + e);
                }
            });
        } catch (RejectedExecutionException e) {
            return null;                                                // closed
        }
    }

    private void await(Future<?> write) {
        if (write == null) {
            return;
        }
        try {
            write.get(TERMINAL_WRITE_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            log.accept("the job status was not written within " + TERMINAL_WRITE_TIMEOUT_MS + " ms: " + e);
        }
    }

    @Override
    public void close() {
        writer.shutdown();
        try {
            writer.awaitTermination(TERMINAL_WRITE_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

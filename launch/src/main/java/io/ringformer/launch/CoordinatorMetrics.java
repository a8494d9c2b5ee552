package io.ringformer.launch;

import io.ringformer.coordinator.Coordinator;
import io.ringformer.protocol.Generation;
import io.ringformer.protocol.JobStatus;
import io.ringformer.worker.PrometheusEndpoint;
import java.util.function.Consumer;

/**
 * A coordinator's metrics ({@code coordinator --metrics-port}): the job as ZooKeeper shows it, so one scrape target
 * follows the whole job whichever workers come and go.
 * <pre>
 * ringformer_coordinator_leader (1 when this coordinator leads), ringformer_generation, ringformer_members,
 * ringformer_job_step, ringformer_job_loss, ringformer_job_items_per_second, ringformer_job_running (1 until the
 * job ends), and Micrometer's jvm_memory_* gauges; every sample tagged coordinator="ID".
 * </pre>
 */
final class CoordinatorMetrics implements AutoCloseable {

    /** What the last look at ZooKeeper showed; null fields before there was anything to see. */
    private record Seen(Generation generation, JobStatus status) {}

    private final PrometheusEndpoint endpoint;
    private volatile Seen seen = new Seen(null, null);

    CoordinatorMetrics(String bind, int port, Coordinator coordinator, Consumer<String> log) {
        endpoint = PrometheusEndpoint.serve(bind, port, "coordinator", coordinator.id(), log);
        endpoint.gauge("ringformer.coordinator.leader", "1 when this coordinator leads the job",
                () -> coordinator.isLeader() ? 1 : 0);
        endpoint.gauge("ringformer.generation", "the membership generation (0 before the first)",
                () -> seen.generation() == null ? 0 : seen.generation().number());
        endpoint.gauge("ringformer.members", "workers in the generation",
                () -> seen.generation() == null ? 0 : seen.generation().worldSize());
        endpoint.gauge("ringformer.job.step", "the job's step, as rank 0 last reported it",
                () -> seen.status() == null ? 0 : Math.max(0, seen.status().lastStep()));
        endpoint.gauge("ringformer.job.loss", "the last reported training loss",
                () -> seen.status() == null ? Double.NaN : seen.status().lastLoss());
        endpoint.gauge("ringformer.job.items.per.second", "the job's throughput (tokens or images), all workers",
                () -> seen.status() == null ? Double.NaN : seen.status().itemsPerSecond());
        endpoint.gauge("ringformer.job.running", "1 until the job finishes, fails or is stopped",
                () -> seen.status() == null || !seen.status().ended() ? 1 : 0);
    }

    /** What the coordinator's command just read from ZooKeeper. */
    void saw(Generation generation, JobStatus status) {
        seen = new Seen(generation, status);
    }

    @Override
    public void close() {
        endpoint.close();
    }
}

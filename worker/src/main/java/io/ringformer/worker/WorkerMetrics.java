package io.ringformer.worker;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A worker's metrics in the Prometheus text format ({@link PrometheusEndpoint}), served on
 * {@code http://BIND:PORT/metrics} when the worker is given {@code --metrics-port} (off by default; bound to
 * 127.0.0.1 unless {@code --metrics-bind} says otherwise). The training gauges follow the steps the run logs (every {@code log.interval}):
 * <pre>
 * ringformer_step, ringformer_loss, ringformer_tokens_per_second, ringformer_grad_norm, ringformer_learning_rate,
 * ringformer_loss_scale, ringformer_step_seconds, ringformer_allreduce_seconds (of the last logged step),
 * ringformer_allreduce_bytes (one all-reduce's buffer), ringformer_exchange_dropped_frames{reason},
 * ringformer_generation, ringformer_members, ringformer_recoveries (generations this worker re-formed in),
 * ringformer_checkpoint_step, ringformer_checkpoint_bytes, ringformer_checkpoint_seconds, and Micrometer's
 * jvm_memory_* gauges.
 * </pre>
 */
public final class WorkerMetrics implements AutoCloseable {

    private final PrometheusEndpoint endpoint;
    private volatile Logged last;                    // the last logged step, null before the first
    private volatile long firstStep;
    private volatile int parameters;
    private volatile long checkpointStep = -1;
    private volatile long checkpointBytes;
    private volatile double checkpointSeconds = Double.NaN;

    /** A logged step and its throughput. */
    private record Logged(Trainer.StepResult result, double itemsPerSecond) {}

    private WorkerMetrics(PrometheusEndpoint endpoint, ElasticExchange exchange) {
        this.endpoint = endpoint;
        gauge("ringformer.step", "the steps trained", () -> last == null ? firstStep : last.result().step() + 1);
        logged("ringformer.loss", "training loss of the last logged step", l -> l.result().loss());
        logged("ringformer.tokens.per.second", "throughput of the last logged step (tokens or images)",
                Logged::itemsPerSecond);
        logged("ringformer.grad.norm", "global gradient norm before clipping, last logged step",
                l -> l.result().gradNorm());
        logged("ringformer.learning.rate", "learning rate of the last logged step", l -> l.result().lr());
        logged("ringformer.loss.scale", "dynamic loss scale (1 unless fp16)", l -> l.result().lossScale());
        logged("ringformer.step.seconds", "wall time of the last logged step", l -> l.result().millis() / 1000);
        logged("ringformer.allreduce.seconds", "all-reduce time of the last logged step, waiting included",
                l -> l.result().exchangeMillis() / 1000);
        gauge("ringformer.allreduce.bytes", "bytes in one all-reduce (the flat gradient)", () -> 4.0 * (parameters + 2));
        for (String reason : new String[] {"bad_mac", "other"}) {
            endpoint.gauge("ringformer.exchange.dropped.frames", "frames dropped, not summed, in this generation's "
                    + "exchange", "reason", reason, () -> exchange.droppedFramesByReason().getOrDefault(reason, 0L));
        }
        gauge("ringformer.generation", "the membership generation", () -> exchange.generation() == null ? 0
                : exchange.generation().number());
        gauge("ringformer.members", "workers in the generation", exchange::worldSize);
        gauge("ringformer.recoveries", "generations this worker re-formed its exchange in after the first",
                exchange::recoveries);
        gauge("ringformer.checkpoint.step", "step of the last checkpoint written (rank 0)", () -> checkpointStep);
        gauge("ringformer.checkpoint.bytes", "size of the last checkpoint written (rank 0)", () -> checkpointBytes);
        gauge("ringformer.checkpoint.seconds", "time to write the last checkpoint (rank 0)", () -> checkpointSeconds);
    }

    private void gauge(String name, String description, java.util.function.Supplier<Number> value) {
        endpoint.gauge(name, description, value);
    }

    /** A gauge of the last logged step; NaN before the first. */
    private void logged(String name, String description, java.util.function.ToDoubleFunction<Logged> value) {
        gauge(name, description, () -> {
            Logged now = last;
            return now == null ? Double.NaN : value.applyAsDouble(now);
        });
    }

    /**
     * Starts serving; {@code port} 0 picks a free one (logged).
     *
     * @throws java.io.UncheckedIOException when the address cannot be bound, naming it
     */
    public static WorkerMetrics serve(String bind, int port, String workerId, ElasticExchange exchange,
                                      Consumer<String> log) {
        return new WorkerMetrics(PrometheusEndpoint.serve(bind, port, "worker", workerId, log), exchange);
    }

    /** Every rank's own logged steps ({@link TrainingRun#alsoTell}), and rank 0's checkpoints. */
    public TrainingRun.Listener listener() {
        return new TrainingRun.Listener() {
            @Override
            public void started(long first, long lastStep, int parameterCount, String items) {
                firstStep = first;
                parameters = parameterCount;
            }

            @Override
            public void stepped(Trainer.StepResult result, double itemsPerSecond) {
                last = new Logged(result, itemsPerSecond);
            }

            @Override
            public void checkpointed(Path checkpoint, long writeMs) {
                checkpointSeconds = writeMs / 1000.0;
                checkpointStep = io.ringformer.worker.checkpoint.CheckpointStore.stepOf(checkpoint);
                try (Stream<Path> files = Files.walk(checkpoint)) {
                    checkpointBytes = files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
                } catch (IOException e) {
                    checkpointBytes = -1;
                }
            }
        };
    }

    @Override
    public void close() {
        endpoint.close();
    }
}

package io.ringformer.worker;

import io.ringformer.worker.backend.ModelBackend;
import io.ringformer.worker.exchange.GradientExchange;
import io.ringformer.worker.optim.AdamW;
import io.ringformer.worker.optim.GradientClipping;
import io.ringformer.worker.optim.LearningRateSchedule;
import io.ringformer.worker.optim.LossScaler;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.data.TextDataset.Rows;
import io.ringformer.zoo.family.Artifact;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.DataSource;
import io.ringformer.zoo.family.Model;
import io.ringformer.zoo.family.ModelFamily;
import io.ringformer.zoo.family.Split;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * One replica, one optimizer step at a time.
 *
 * <p>The model is a family's ({@link ModelFamily}): the trainer sees only its contract — a {@link Model} with
 * parameter groups, loss and metrics, fed by a {@link DataSource} of named arrays.
 *
 * <p>A step, as DESIGN.md §3 narrates it:
 * <ol>
 *   <li>The global batch of this step is a function of (seed, step) alone: {@code train.batch_size} rows, the same
 *       whatever the world size or accumulation. This rank takes its rows, split into {@code train.grad_accum}
 *       micro-batches.</li>
 *   <li>Each micro-batch's gradient (of the loss times the loss scale) is added into one flat buffer, weighted by
 *       its share of the global batch, so the sum over micro-batches and ranks is the gradient of the global
 *       mean loss. The buffer's last element carries the weighted loss, so one all-reduce sums both.</li>
 *   <li>The {@link GradientExchange} sums the buffer over all ranks. Its last element carries stop votes
 *       ({@link #requestStop}), so that every rank learns in the same step that one of them was asked to stop.
 *       With {@code exchange.bucket_bytes} &gt; 0 the sum starts during the last micro-batch's backward pass, a
 *       bucket of completed layers at a time ({@link GradientBuckets}).</li>
 *   <li>The global norm of the unscaled gradient, in one read-only pass; a non-finite norm (some value was not
 *       finite) skips the step on every rank alike (they hold the same sums) and, in fp16, halves the loss
 *       scale.</li>
 *   <li>AdamW at the scheduled rate on the fp32 master copy, reading the gradient times one factor — the loss
 *       scale's inverse and the global-norm clip together, so neither needs a pass of its own; then the backend
 *       takes the new parameters.</li>
 * </ol>
 * Dropout masks are a function of (seed, step, sequence) ({@link io.ringformer.zoo.Dropout}), so a resumed run
 * and a run split differently across ranks draw the same masks. The gradients come from a {@link ModelBackend}:
 * the hand-written fused step, or the SameDiff graph.
 */
public final class Trainer {

    /**
     * What one step did. {@code loss} is the global mean before the update; {@code gradNorm} is pre-clip;
     * {@code exchangeMillis} is the part of {@code millis} spent in the all-reduce (waiting for the slowest rank
     * included).
     */
    public record StepResult(long step, double loss, double gradNorm, double lr, boolean applied, double lossScale,
                             double millis, double exchangeMillis, boolean stop) {}

    /** Everything a checkpoint must hold to continue bit-identically. */
    public record State(long step, float[] params, float[] firstMoment, float[] secondMoment, long optimizerSteps,
                        double lossScale, int cleanSteps) {}

    private static final long EVAL_SALT = 0x5EED_E7A1L;

    private final TrainConfig config;
    private ModelBackend backend;
    private final DataSource data;
    private final Model model;
    private final GradientExchange exchange;
    private final FlatParameters layout;
    private final float[] params;
    private final float[] buffer;      // gradient [0, P), weighted loss [P], stop votes [P + 1]
    private volatile boolean stopVote;
    private final boolean[] decay;
    private final AdamW optimizer;
    private final LearningRateSchedule schedule;
    private final double gradClip;     // optim.grad_clip, read once: a config lookup builds the family's key list
    private final boolean fp16;
    private LossScaler scaler;
    private final int globalBatch;
    private final int accumulation;
    private final GradientBuckets buckets;     // null: one all-reduce after the backward pass
    private final long seed;
    private final Batch batch;         // this step's global batch, [batch_size, …] per array
    private long step;

    public Trainer(TrainConfig config, Artifact artifact, DataSource data, GradientExchange exchange) {
        this(config, artifact, data, exchange, message -> {});
    }

    /**
     * @param artifact the family's preprocessing (it sizes the model's vocabulary or classes)
     * @param log      where the choice of backend is reported
     */
    public Trainer(TrainConfig config, Artifact artifact, DataSource data, GradientExchange exchange,
                   Consumer<String> log) {
        this.config = config;
        this.data = data;
        this.exchange = exchange;
        this.globalBatch = config.getInt("train.batch_size");
        this.accumulation = config.getInt("train.grad_accum");
        int bucketBytes = config.getInt("exchange.bucket_bytes");
        this.buckets = bucketBytes > 0 ? new GradientBuckets(exchange, Math.max(1, bucketBytes / Float.BYTES)) : null;
        this.seed = config.getInt("train.seed");
        if (accumulation < 1 || globalBatch < exchange.worldSize() * accumulation) {
            throw new ConfigException("train.batch_size (" + globalBatch + ") must be at least world size ("
                    + exchange.worldSize() + ") × train.grad_accum (" + accumulation + ")");
        }
        MixedPrecision precision;
        try {
            precision = MixedPrecision.parse(config.getString("train.precision"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("train.precision: " + e.getMessage());
        }
        ModelFamily family = config.family();
        try {
            this.model = family.build(config, artifact, seed, true, precision);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("model: " + e.getMessage());
        }
        // From the declared parameters, not the graph: a fused run never builds one (nor loads ND4J's backend).
        this.layout = FlatParameters.of(model.parameters(), model.parameterNames(), model::decays);
        this.params = layout.initial(model.parameters());
        this.backend = ModelBackend.create(config.getString("model.backend"), model,
                () -> family.build(config, artifact, seed, false, MixedPrecision.FP32), layout, precision, seed,
                Rows.of(globalBatch, exchange.rank(), exchange.worldSize()).count(), log);
        backend.setParameters(params);
        this.batch = data.newBatch(globalBatch);
        this.buffer = new float[layout.size() + 2];
        this.decay = layout.decayMask();
        this.optimizer = new AdamW(layout.size(), config.getDouble("optim.beta1"), config.getDouble("optim.beta2"),
                config.getDouble("optim.eps"), config.getDouble("optim.weight_decay"));
        this.schedule = schedule(config);
        this.gradClip = config.getDouble("optim.grad_clip");
        this.fp16 = precision.compute() == DataType.HALF;
        this.scaler = new LossScaler(fp16);
    }

    static LearningRateSchedule schedule(TrainConfig config) {
        String kind = config.getString("optim.schedule");
        try {
            return switch (kind) {
                case "cosine" -> LearningRateSchedule.warmupCosine(config.getDouble("optim.lr"),
                        config.getDouble("optim.min_lr"), config.getInt("optim.warmup_iters"),
                        config.getInt("optim.lr_decay_iters"));
                case "constant" -> LearningRateSchedule.constant(config.getDouble("optim.lr"));
                default -> throw new ConfigException("optim.schedule must be cosine or constant, got '" + kind + "'");
            };
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
    }

    /**
     * Makes this replica's state equal to every other member's after the exchange was formed or re-formed (its
     * world size may have changed); see {@link ReplicaSync}.
     *
     * @param holdsState   false for a worker that joined a running job and holds only its seed's parameters
     * @param boundaryDone whether this replica already evaluated and checkpointed at its {@link #nextStep()}
     */
    ReplicaSync.Outcome synchronise(boolean holdsState, boolean boundaryDone) {
        int world = exchange.worldSize();
        if (globalBatch < world * accumulation) {
            throw new ConfigException("train.batch_size (" + globalBatch + ") must be at least world size (" + world
                    + ") × train.grad_accum (" + accumulation + ")");
        }
        int sequences = Rows.of(globalBatch, exchange.rank(), world).count();
        ModelBackend sized = backend.forSequences(sequences);   // this rank's share of the batch may have changed
        if (sized != backend) {
            backend = sized;
            backend.setParameters(params);
        }
        return ReplicaSync.run(this, exchange, holdsState, boundaryDone);
    }

    /**
     * A 64-bit hash of everything a step depends on: parameters, both AdamW moments, the step, the optimizer's
     * step count and the loss scaler. Equal replicas have equal hashes; any differing bit changes it (almost
     * surely).
     */
    public long stateHash() {
        long h = 0x243F_6A88_85A3_08D3L;
        h = mix(h, step);
        h = mix(h, optimizer.steps());
        h = mix(h, Double.doubleToLongBits(scaler.scale()));
        h = mix(h, scaler.cleanSteps());
        for (float[] array : new float[][] {params, optimizer.firstMoment(), optimizer.secondMoment()}) {
            for (float value : array) {
                h = (h ^ Float.floatToRawIntBits(value)) * 0x9E37_79B9_7F4A_7C15L;
            }
            h = mix(h, array.length);
        }
        return mix(h, 0);
    }

    private static long mix(long h, long value) {
        h ^= value;
        h *= 0xBF58_476D_1CE4_E5B9L;
        h ^= h >>> 31;
        return h * 0x94D0_49BB_1331_11EBL;
    }

    /**
     * Votes to stop: the next step's all-reduce carries the vote, and every rank's {@link StepResult#stop()} of that
     * step says whether any rank voted, so that all of them stop after the same step.
     */
    public void requestStop() {
        stopVote = true;
    }

    /** Trains step {@link #nextStep()} and advances to the next. */
    public StepResult trainStep() {
        long started = System.nanoTime();
        java.util.Arrays.fill(buffer, 0f);
        double lossScale = scaler.scale();
        int size = layout.size();
        buffer[size + 1] = stopVote ? 1 : 0;
        data.fill(seed, step, batch);
        Rows mine = Rows.of(globalBatch, exchange.rank(), exchange.worldSize());
        boolean overlap = buckets != null && exchange.worldSize() > 1;
        for (int micro = 0; micro < accumulation; micro++) {
            Rows part = Rows.of(mine.count(), micro, accumulation);
            float weight = (float) part.count() / globalBatch;
            double loss;
            if (overlap && micro == accumulation - 1) {      // the last micro-batch completes the gradient
                buckets.begin(buffer, step);
                loss = backend.addGradients(batch, mine.first() + part.first(), part.count(), step,
                        (float) (weight * lossScale), buffer, buckets);
            } else {
                loss = backend.addGradients(batch, mine.first() + part.first(), part.count(), step,
                        (float) (weight * lossScale), buffer);
            }
            buffer[size] += (float) (weight * loss);
        }
        long exchangeStarted = System.nanoTime();
        if (overlap) {
            buckets.finish();                                 // the rest, with the loss and the votes
        } else {
            exchange.allReduce(buffer, step);
        }
        double exchangeMillis = (System.nanoTime() - exchangeStarted) / 1e6;
        double loss = buffer[size];
        boolean stop = buffer[size + 1] > 0;
        // Two passes over the summed gradient: its norm (not finite if any value is: an fp16 overflow), then AdamW
        // on the gradient unscaled and clipped by one factor.
        double norm = GradientClipping.norm(buffer, size) / lossScale;
        boolean finite = scaler.accept(Double.isFinite(norm));
        double lr = schedule.at(step);
        if (finite) {
            double clip = GradientClipping.factor(norm, gradClip);
            optimizer.update(params, buffer, decay, lr, (float) (clip / lossScale));
            backend.setParameters(params);
        } else {
            norm = Double.NaN;
        }
        return new StepResult(step++, loss, norm, lr, finite, lossScale, (System.nanoTime() - started) / 1e6,
                exchangeMillis, stop);
    }

    /**
     * The model's metrics ({@link Model#metrics()}, the loss first) on a split's evaluation batches (the same
     * batches at every evaluation), without dropout. Every rank evaluates its rows of each batch; the exchange sums
     * the metrics' sums and counts, so every rank gets the exact global values.
     */
    public Map<String, Double> evaluate(Split split) {
        List<Model.Metric> metrics = model.metrics();
        int batches = data.evaluationBatches(split, globalBatch, config.getInt("eval.iters"));
        double[] sums = new double[2 * metrics.size()];
        for (int i = 0; i < batches; i++) {
            data.fillEvaluation(split, seed ^ EVAL_SALT, i, batch);
            Rows mine = Rows.of(batch.filled(), exchange.rank(), exchange.worldSize());
            if (mine.count() > 0) {
                double[] part = backend.evaluate(batch, mine.first(), mine.count());
                for (int m = 0; m < sums.length; m++) {
                    sums[m] += part[m];
                }
            }
        }
        float[] total = new float[sums.length];
        for (int m = 0; m < sums.length; m++) {
            total[m] = (float) sums[m];
        }
        exchange.allReduce(total, -1 - step);
        Map<String, Double> values = new LinkedHashMap<>();
        for (int m = 0; m < metrics.size(); m++) {
            values.put(metrics.get(m).name(), total[2 * m] / (double) Math.max(total[2 * m + 1], 1f));
        }
        return values;
    }

    /** The loss metric of an evaluation ({@link #evaluate}'s first). */
    public double evaluateLoss(Split split) {
        return evaluate(split).values().iterator().next();
    }

    /** Items (tokens, images) in one global batch, for throughput. */
    public long itemsPerStep() {
        return (long) globalBatch * data.itemsPerRow();
    }

    /** What {@link #itemsPerStep} counts: tokens, images. */
    public String itemName() {
        return data.itemName();
    }

    /** The model the trainer trains (its graph holds the initial parameters, not the trained ones). */
    public Model model() {
        return model;
    }

    /** The next step to train (0 for a fresh run). */
    public long nextStep() {
        return step;
    }

    /** Which engine computes the gradients, e.g. "fused fp32 (oneDNN GEMMs, vector 512-bit kernels)". */
    public String backend() {
        return backend.description();
    }

    public FlatParameters layout() {
        return layout;
    }

    /** The fp32 master parameters (live; do not modify). */
    public float[] parameters() {
        return params;
    }

    public int rank() {
        return exchange.rank();
    }

    public int parameterCount() {
        return layout.size();
    }

    public State state() {
        return new State(step, params.clone(), optimizer.firstMoment().clone(), optimizer.secondMoment().clone(),
                optimizer.steps(), scaler.scale(), scaler.cleanSteps());
    }

    /** Starts from {@code parameters} (another run's, to fine-tune) with a fresh optimizer at step 0. */
    public void initialise(float[] parameters) {
        if (parameters.length != params.length) {
            throw new ConfigException("train.init_from holds " + parameters.length + " parameters but this model has "
                    + params.length + ": its model.* keys must be the checkpoint's");
        }
        System.arraycopy(parameters, 0, params, 0, params.length);
        backend.setParameters(params);
    }

    public void restore(State state) {
        if (state.params().length != params.length) {
            throw new ConfigException("the checkpoint holds " + state.params().length
                    + " parameters but this model has " + params.length);
        }
        System.arraycopy(state.params(), 0, params, 0, params.length);
        optimizer.restore(state.firstMoment(), state.secondMoment(), state.optimizerSteps());
        scaler = new LossScaler(fp16, state.lossScale(), state.cleanSteps());
        step = state.step();
        backend.setParameters(params);
    }
}

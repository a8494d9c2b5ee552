package io.ringformer.worker;

import io.ringformer.worker.exchange.GradientExchange;
import io.ringformer.worker.optim.AdamW;
import io.ringformer.worker.optim.GradientClipping;
import io.ringformer.worker.optim.LearningRateSchedule;
import io.ringformer.worker.optim.LossScaler;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.attention.PositionType;
import io.ringformer.zoo.data.TextDataset;
import io.ringformer.zoo.data.TextDataset.Rows;
import io.ringformer.zoo.data.TextDataset.Split;
import io.ringformer.zoo.gpt.Gpt;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * One replica, one optimizer step at a time.
 *
 * <p>A step, as DESIGN.md §3 narrates it:
 * <ol>
 *   <li>The global batch of this step is a function of (seed, step) alone: {@code train.batch_size} rows, the same
 *       whatever the world size or accumulation. This rank takes its rows, split into {@code train.grad_accum}
 *       micro-batches.</li>
 *   <li>Each micro-batch's gradient (of the loss times the loss scale) is added into one flat buffer, weighted by
 *       its share of the global batch, so the sum over micro-batches and ranks is the gradient of the global
 *       mean loss. The buffer's last element carries the weighted loss, so one all-reduce sums both.</li>
 *   <li>The {@link GradientExchange} sums the buffer over all ranks.</li>
 *   <li>Unscale; a non-finite value skips the step on every rank alike (they hold the same sums) and, in fp16,
 *       halves the loss scale.</li>
 *   <li>Clip by global norm, then AdamW at the scheduled rate on the fp32 master copy; copy it into the graph.</li>
 * </ol>
 * Dropout masks are a function of (seed, step, sequence) ({@link io.ringformer.zoo.Dropout}), so a resumed run
 * and a run split differently across ranks draw the same masks.
 */
public final class Trainer {

    /** What one step did. {@code loss} is the global mean before the update; {@code gradNorm} is pre-clip. */
    public record StepResult(long step, double loss, double gradNorm, double lr, boolean applied, double lossScale,
                             double millis) {}

    /** Everything a checkpoint must hold to continue bit-identically. */
    public record State(long step, float[] params, float[] firstMoment, float[] secondMoment, long optimizerSteps,
                        double lossScale, int cleanSteps) {}

    private static final String LOSS_SCALE = "loss_scale";
    private static final String SCALED_LOSS = "scaled_loss";
    private static final long EVAL_SALT = 0x5EED_E7A1L;

    private final TrainConfig config;
    private final Gpt gpt;
    private final SameDiff sd;
    private final TextDataset data;
    private final GradientExchange exchange;
    private final FlatParameters layout;
    private final float[] params;
    private final float[] buffer;      // gradient [0, P) and weighted loss [P]
    private final boolean[] decay;
    private final AdamW optimizer;
    private final LearningRateSchedule schedule;
    private final boolean fp16;
    private LossScaler scaler;
    private final List<String> parameterNames;
    private final int globalBatch;
    private final int blockSize;
    private final int accumulation;
    private final long seed;
    private final boolean usesDropout;
    private Gpt inference;
    private long step;

    public Trainer(TrainConfig config, TextDataset data, int vocabSize, GradientExchange exchange) {
        this.config = config;
        this.data = data;
        this.exchange = exchange;
        this.globalBatch = config.getInt("train.batch_size");
        this.blockSize = config.getInt("model.block_size");
        this.accumulation = config.getInt("train.grad_accum");
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
        Gpt.Config model = modelConfig(config, vocabSize);
        this.usesDropout = model.dropout() > 0;
        this.gpt = Gpt.build(model, DataType.FLOAT, seed, true, precision);
        this.sd = gpt.graph();
        SDVariable scale = sd.placeHolder(LOSS_SCALE, DataType.FLOAT);
        sd.getVariable(Gpt.LOSS).mul(SCALED_LOSS, scale);
        sd.setLossVariables(SCALED_LOSS);
        createGradientFunction(sd); // now rather than inside the first step, so step times are comparable

        this.parameterNames = gpt.parameterNames();
        this.layout = FlatParameters.of(sd, parameterNames, Trainer::decays);
        this.params = layout.read(sd);
        this.buffer = new float[layout.size() + 1];
        this.decay = layout.decayMask();
        this.optimizer = new AdamW(layout.size(), config.getDouble("optim.beta1"), config.getDouble("optim.beta2"),
                config.getDouble("optim.eps"), config.getDouble("optim.weight_decay"));
        this.schedule = schedule(config);
        this.fp16 = precision.compute() == DataType.HALF;
        this.scaler = new LossScaler(fp16);
    }

    /** M2.1 prints a line per differentiated op (~100) to System.out while it builds the backward graph. */
    private static void createGradientFunction(SameDiff sd) {
        java.io.PrintStream out = System.out;
        System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        try {
            sd.createGradFunction();
        } finally {
            System.setOut(out);
        }
    }

    /** The model shape a config asks for. */
    public static Gpt.Config modelConfig(TrainConfig config, int vocabSize) {
        try {
            return new Gpt.Config(vocabSize, config.getInt("model.block_size"), config.getInt("model.n_layer"),
                    config.getInt("model.n_head"), config.getInt("model.n_embd"), config.getDouble("model.dropout"),
                    PositionType.parse(config.getString("model.positions")));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("model: " + e.getMessage());
        }
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

    /** Weight decay on matrices only: not on biases, LayerNorm gains or the position table. */
    static boolean decays(String name) {
        return name.startsWith("w") && !name.equals("wpe") || name.contains("/w_");
    }

    /** Trains step {@link #nextStep()} and advances to the next. */
    public StepResult trainStep() {
        long started = System.nanoTime();
        java.util.Arrays.fill(buffer, 0f);
        double lossScale = scaler.scale();
        TextDataset.Batch global = data.batch(Split.TRAIN, seed, step, globalBatch, blockSize);
        Rows mine = Rows.of(globalBatch, exchange.rank(), exchange.worldSize());
        int size = layout.size();
        for (int micro = 0; micro < accumulation; micro++) {
            Rows part = Rows.of(mine.count(), micro, accumulation);
            int firstRow = mine.first() + part.first();
            Map<String, INDArray> feed = feed(global, firstRow, part.count());
            feed.putAll(gpt.dropoutNoise(seed, step, firstRow, part.count()));
            feed.put(LOSS_SCALE, Nd4j.scalar(DataType.FLOAT, lossScale));
            OutAndGrad result = sd.calculateGradientsAndOutputs(feed, List.of(Gpt.LOSS), parameterNames);
            float weight = (float) part.count() / globalBatch;
            layout.accumulate(result.getGradients(), weight, buffer);
            buffer[size] += weight * result.getOutputs().get(Gpt.LOSS).getFloat(0);
        }
        exchange.allReduce(buffer, step);
        double loss = buffer[size];
        boolean finite = scaler.unscale(buffer, size);
        double lr = schedule.at(step);
        double norm = Double.NaN;
        if (finite) {
            norm = GradientClipping.clip(buffer, size, config.getDouble("optim.grad_clip"));
            optimizer.update(params, buffer, decay, lr);
            layout.write(params, sd);
        }
        return new StepResult(step++, loss, norm, lr, finite, lossScale, (System.nanoTime() - started) / 1e6);
    }

    /**
     * Mean loss over {@code eval.iters} fixed batches of a split (the same batches at every evaluation), without
     * dropout. Every rank evaluates its rows; the exchange sums the weighted means.
     */
    public double evaluate(Split split) {
        SameDiff graph = usesDropout ? inferenceGraph() : sd;
        int iterations = config.getInt("eval.iters");
        Rows mine = Rows.of(globalBatch, exchange.rank(), exchange.worldSize());
        float[] total = new float[1];
        for (int i = 0; i < iterations; i++) {
            TextDataset.Batch batch = data.batch(split, seed ^ EVAL_SALT, i, globalBatch, blockSize);
            Map<String, INDArray> feed = feed(batch, mine.first(), mine.count());
            float loss = graph.output(feed, Gpt.LOSS).get(Gpt.LOSS).getFloat(0);
            total[0] += loss * mine.count() / (float) globalBatch;
        }
        exchange.allReduce(total, -1 - step);
        return total[0] / iterations;
    }

    private SameDiff inferenceGraph() {
        if (inference == null) {
            inference = Gpt.build(gpt.config(), DataType.FLOAT, seed, false);
        }
        layout.write(params, inference.graph());
        return inference.graph();
    }

    private static Map<String, INDArray> feed(TextDataset.Batch batch, int firstRow, int rows) {
        Map<String, INDArray> feed = new HashMap<>();
        feed.put(Gpt.TOKENS, batch.tokens().get(NDArrayIndex.interval(firstRow, firstRow + rows),
                NDArrayIndex.all()).dup());
        feed.put(Gpt.TARGETS, batch.targets().get(NDArrayIndex.interval(firstRow, firstRow + rows),
                NDArrayIndex.all()).dup());
        return feed;
    }

    /** The next step to train (0 for a fresh run). */
    public long nextStep() {
        return step;
    }

    public Gpt model() {
        return gpt;
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

    public void restore(State state) {
        if (state.params().length != params.length) {
            throw new ConfigException("the checkpoint holds " + state.params().length
                    + " parameters but this model has " + params.length);
        }
        System.arraycopy(state.params(), 0, params, 0, params.length);
        optimizer.restore(state.firstMoment(), state.secondMoment(), state.optimizerSteps());
        scaler = new LossScaler(fp16, state.lossScale(), state.cleanSteps());
        step = state.step();
        layout.write(params, sd);
    }
}

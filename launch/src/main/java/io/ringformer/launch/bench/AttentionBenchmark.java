package io.ringformer.launch.bench;

import io.ringformer.launch.ChildJvm;
import io.ringformer.launch.ConfigOptions;
import io.ringformer.protocol.InputException;
import io.ringformer.worker.MetricsFile;
import io.ringformer.worker.TrainConfig;
import io.ringformer.worker.backend.SameDiffBackend;
import io.ringformer.zoo.Initializer;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.ParameterTable;
import io.ringformer.zoo.attention.Attention;
import io.ringformer.zoo.attention.AttentionInputs;
import io.ringformer.zoo.attention.AttentionMasks;
import io.ringformer.zoo.attention.AttentionTypes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The attention lab's comparison: the config's model trained with each {@code attention.type} from the same seed
 * on the same data, one {@code ringformer train} process after another, by default all on the SameDiff backend (so
 * that the comparison is of the attention, not of the backend). With {@code --backend fused}, the types that have a
 * fused step ({@code full}, {@code memory_efficient}, {@code linear}) train on it and the others on SameDiff, and the table says
 * which ran where: the way to compare {@code memory_efficient} with {@code full} as they would really train.
 *
 * <p>Per type: val loss after N steps, the median tokens/s of the second half of the run, the peak RSS of the
 * training processes (their VmHWM, polled), and attention's share of the step: one layer's attention core (from q,
 * k, v to the attended values, its own parameters included) timed forward and backward alone at the run's shapes,
 * times the layers, over the step time. The loss curves go into one PNG.
 *
 * <p>With {@code --context}, a second mode: for each T, a few steps of batch {@code --batch} at block size T, and
 * the peak RSS and median step time of each type as T grows, drawn into a PNG.
 */
@Command(name = "attention", mixinStandardHelpOptions = true,
        description = "Train each attention type from the same seed and compare val loss, speed, memory and "
                + "attention's share of the step; or, with --context, memory and step time as T grows.")
public final class AttentionBenchmark implements Callable<Integer> {

    @Mixin
    ConfigOptions config;

    @Option(names = "--types", split = ",",
            defaultValue = "full,sliding_window,block_sparse,memory_efficient,simplicial,talking_heads",
            description = "Attention types to compare (default ${DEFAULT-VALUE}; linear holds on to native memory "
                    + "step after step on SameDiff, see the README: compare it with --backend fused).")
    List<String> types;

    @Option(names = "--steps", defaultValue = "1000", description = "Training steps per type (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--workers", defaultValue = "1", description = "Workers per run (default ${DEFAULT-VALUE}).")
    int workers;

    @Option(names = "--context", split = ",", paramLabel = "T",
            description = "Long-context mode: these block sizes, a few steps each.")
    List<Integer> context;

    @Option(names = "--batch", defaultValue = "1", description = "Long-context mode: sequences per step (default "
            + "${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--backend", defaultValue = "samediff", description = "model.backend of every run: samediff "
            + "(default) or fused (each type on its fused step where it has one, else on SameDiff).")
    String backend;

    @Option(names = "--out", defaultValue = "runs/bench-attention", paramLabel = "DIR",
            description = "Where the runs, logs and PNGs go (default ${DEFAULT-VALUE}).")
    Path out;

    /** One finished run of one type. */
    private record Result(String type, String backend, double valLoss, double tokensPerSecond, double stepMs, long peakRssKb,
                          double attentionMs, List<Double> steps, List<Double> losses) {}

    @Override
    public Integer call() throws Exception {
        TrainConfig settings = config.load();
        for (String type : types) {
            AttentionTypes.named(type);                      // an unknown name fails here, listing the types
        }
        if (steps < 2 || workers < 1 || batch < 1) {
            throw new InputException("--steps must be at least 2, --workers and --batch at least 1");
        }
        if (!List.of("samediff", "fused").contains(backend)) {
            throw new InputException("--backend must be samediff or fused, got '" + backend + "'");
        }
        Files.createDirectories(out);
        System.out.printf(Locale.ROOT, "%s (%s), model.backend %s, %s worker(s), OMP_NUM_THREADS=1 per process%n",
                config.name(), settings.family().name(), backend, workers);
        return context == null ? compare(settings) : longContext(settings);
    }

    private int compare(TrainConfig settings) throws Exception {
        List<Result> results = new ArrayList<>();
        for (String type : types) {
            List<String> sets = List.of("attention.type=" + type, "train.max_iters=" + steps,
                    "eval.interval=" + steps, "checkpoint.interval=" + steps, "log.interval=" + Math.max(1, steps / 100));
            results.add(run(settings, type, type, sets, true));
        }
        System.out.printf("%n%-16s %-8s %10s %10s %10s %12s %14s %16s%n", "attention.type", "backend", "val loss",
                "tokens/s", "step ms", "peak RSS", "attention ms", "attention share");
        for (Result r : results) {
            System.out.printf(Locale.ROOT, "%-16s %-8s %10.4f %,10.0f %10.1f %9.0f MB", r.type(), r.backend(),
                    r.valLoss(), r.tokensPerSecond(), r.stepMs(), r.peakRssKb() / 1024.0);
            if (r.backend().equals("samediff")) {
                System.out.printf(Locale.ROOT, " %14.1f %15.0f%%%n", r.attentionMs(), 100 * r.attentionMs() / r.stepMs());
            } else {
                System.out.printf(" %14s %16s%n", "-", "-");   // the timing is of the graph: no share of a fused step
            }
        }
        System.out.println("attention ms: every layer's attention core (q, k, v to values) forward and backward, "
                + "timed alone on SameDiff at the run's shapes; its share of the step is an estimate (SameDiff's "
                + "per-op overhead makes a small graph alone slower than inside the step)");
        XYChart chart = new XYChartBuilder().width(900).height(560).title(config.name() + ": train loss by "
                + "attention.type").xAxisTitle("step").yAxisTitle("loss").build();
        for (Result r : results) {
            chart.addSeries(r.type(), r.steps(), r.losses()).setMarker(SeriesMarkers.NONE);
        }
        Path png = out.resolve("attention-loss.png");
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
        System.out.println("loss curves: " + png);
        return 0;
    }

    private int longContext(TrainConfig settings) throws Exception {
        Map<String, List<Result>> byType = new LinkedHashMap<>();
        int contextSteps = Math.min(steps, 8);
        for (String type : types) {
            for (int t : context) {
                List<String> sets = List.of("attention.type=" + type, "model.block_size=" + t,
                        "train.batch_size=" + batch * workers, "train.max_iters=" + contextSteps,
                        "eval.interval=" + contextSteps, "eval.iters=1", "checkpoint.interval=" + contextSteps,
                        "log.interval=1");
                Result result;
                try {
                    result = run(settings, type, type + "-T" + t, sets, false);
                } catch (RunFailed e) {
                    // the top of a sweep is where memory runs out: keep the sweep going, and say so in its cell
                    System.out.println(e.getMessage());
                    result = new Result(type, e.exitCode == 137 ? "killed" : "failed", Double.NaN, Double.NaN,
                            Double.NaN, 0, Double.NaN, List.of(), List.of());
                }
                byType.computeIfAbsent(type, k -> new ArrayList<>()).add(result);
            }
        }
        System.out.printf("%n%-16s %-8s", "T", "backend");
        context.forEach(t -> System.out.printf("%22d", t));
        System.out.println();
        for (Map.Entry<String, List<Result>> entry : byType.entrySet()) {
            System.out.printf("%-16s %-8s", entry.getKey(), backendOf(entry.getValue()));
            for (Result r : entry.getValue()) {
                if (Double.isNaN(r.stepMs())) {
                    System.out.printf("%22s", r.backend().equals("killed") ? "killed (memory?)" : "failed");
                } else {
                    System.out.printf(Locale.ROOT, "%11.0f ms %6.0f MB", r.stepMs(), r.peakRssKb() / 1024.0);
                }
            }
            System.out.println();
        }
        List<Double> xs = context.stream().map(Integer::doubleValue).toList();
        for (String what : List.of("step ms", "peak RSS MB")) {
            XYChart chart = new XYChartBuilder().width(800).height(520).title(config.name() + ", batch " + batch
                    + ": " + what + " against T").xAxisTitle("T").yAxisTitle(what).build();
            for (Map.Entry<String, List<Result>> entry : byType.entrySet()) {
                List<Double> x = new ArrayList<>();
                List<Double> y = new ArrayList<>();
                for (int i = 0; i < xs.size(); i++) {
                    Result r = entry.getValue().get(i);
                    if (!Double.isNaN(r.stepMs())) {                      // a run that failed has no point
                        x.add(xs.get(i));
                        y.add(what.startsWith("step") ? r.stepMs() : r.peakRssKb() / 1024.0);
                    }
                }
                if (!x.isEmpty()) {
                    chart.addSeries(entry.getKey(), x, y);
                }
            }
            Path png = out.resolve("attention-context-" + (what.startsWith("step") ? "time" : "memory") + ".png");
            BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
            System.out.println(what + ": " + png);
        }
        return 0;
    }

    /**
     * One {@code train} process (and its workers) to the end; its metrics, peak RSS and, when {@code timeAttention},
     * attention's share (NaN otherwise).
     */
    private Result run(TrainConfig settings, String type, String name, List<String> sets, boolean timeAttention)
            throws Exception {
        Path directory = out.resolve(name);
        if (Files.exists(directory.resolve("metrics.jsonl"))) {
            throw new InputException(directory + " holds an earlier run; remove it or pass another --out");
        }
        List<String> arguments = new ArrayList<>(List.of("train", "--config", config.file().toString(), "--out",
                directory.toString(), "--sample", "0", "--workers", "" + workers, "--set", "model.backend=" + backend));
        for (String set : config.overrides()) {
            arguments.addAll(List.of("--set", set));
        }
        for (String set : sets) {
            arguments.addAll(List.of("--set", set));
        }
        Path log = out.resolve(name + ".log");
        System.out.println(name + ": training (log " + log + ")");
        Process process = ChildJvm.start(arguments, "6g", log);
        long peakKb = 0;
        while (!process.waitFor(200, TimeUnit.MILLISECONDS)) {
            long sum = peakRss(process.toHandle());
            for (ProcessHandle child : process.descendants().toList()) {
                sum += peakRss(child);
            }
            peakKb = Math.max(peakKb, sum);
        }
        if (process.exitValue() != 0) {
            throw new RunFailed(name, process.exitValue(), log);
        }
        List<Double> stepList = new ArrayList<>();
        List<Double> losses = new ArrayList<>();
        List<Double> throughput = new ArrayList<>();
        double valLoss = Double.NaN;
        for (Map<String, Object> record : MetricsFile.records(directory.resolve("metrics.jsonl"))) {
            double step = ((Number) record.get("step")).doubleValue();
            if (record.get("loss") instanceof Number loss) {
                stepList.add(step);
                losses.add(loss.doubleValue());
                throughput.add(((Number) record.get("tokens_per_s")).doubleValue());
            }
            if (record.get("val_loss") instanceof Number val) {
                valLoss = val.doubleValue();
            }
        }
        List<Double> steady = new ArrayList<>(throughput.subList(throughput.size() / 2, throughput.size()));
        steady.sort(null);
        double tokensPerSecond = steady.get(steady.size() / 2);
        TrainConfig run = TrainConfig.override(settings, sets);
        double stepMs = 1000.0 * run.getInt("train.batch_size") * run.getInt("model.block_size") / tokensPerSecond;
        String ranOn = backend.equals("fused") && AttentionTypes.configured(run).fusedGap() == null
                && run.getDouble("model.dropout") == 0 ? "fused" : "samediff";
        double attentionMs = timeAttention && ranOn.equals("samediff")
                ? attentionMillis(run, run.getInt("train.batch_size") / workers) * run.getInt("model.n_layer")
                : Double.NaN;
        return new Result(type, ranOn, valLoss, tokensPerSecond, stepMs, peakKb, attentionMs, stepList, losses);
    }

    /**
     * One layer's attention core, forward and backward, alone on SameDiff at a run's shapes: q, k, v of {@code rows}
     * sequences and the type's own parameters in, Σ values ⊙ R out; the median of 10 timed passes after 5.
     */
    static double attentionMillis(TrainConfig run, int rows) {
        int t = run.getInt("model.block_size");
        int heads = run.getInt("model.n_head");
        int d = run.getInt("model.n_embd");
        int dh = d / heads;
        boolean causal = run.family().name().equals("gpt");
        Attention attention = AttentionTypes.configured(run);
        SameDiff sd = SameDiff.create();
        ParameterTable table = new ParameterTable(new Initializer(1, DataType.FLOAT));
        attention.declare(table, "attn", d, heads, 0.02);
        SDVariable bias = causal ? sd.constant(Nd4j.createFromArray(AttentionMasks.causal(t, t))) : null;
        AttentionInputs in = new AttentionInputs(sd.var("q", Nd4j.rand(DataType.FLOAT, rows, heads, t, dh)),
                sd.var("k", Nd4j.rand(DataType.FLOAT, rows, heads, t, dh)),
                sd.var("v", Nd4j.rand(DataType.FLOAT, rows, heads, t, dh)), bias, null, causal, t, t, heads, dh,
                java.util.function.UnaryOperator.identity(), MixedPrecision.FP32,
                sd.var("x", Nd4j.rand(DataType.FLOAT, (long) rows * t, d)),
                suffix -> table.var(sd, "attn/" + suffix));
        SDVariable values = attention.attend(sd, "attn", in).values();
        values.mul(sd.constant(Nd4j.rand(DataType.FLOAT, rows, heads, t, dh))).sum("timing_loss");
        sd.setLossVariables("timing_loss");
        SameDiffBackend.createGradientFunction(sd);
        List<String> inputs = new ArrayList<>(List.of("q", "k", "v"));
        List<Double> millis = new ArrayList<>();
        for (int pass = 0; pass < 15; pass++) {
            long started = System.nanoTime();
            sd.calculateGradients(Map.of(), inputs);
            if (pass >= 5) {
                millis.add((System.nanoTime() - started) / 1e6);
            }
        }
        millis.sort(null);
        return millis.get(millis.size() / 2);
    }

    /** The backend a type's runs used (the first run that finished says). */
    private static String backendOf(List<Result> results) {
        return results.stream().map(Result::backend).filter(b -> !b.equals("killed") && !b.equals("failed"))
                .findFirst().orElse("-");
    }

    /** A training run that did not finish; the comparison stops on it, a long-context sweep notes it and goes on. */
    static final class RunFailed extends InputException {
        final int exitCode;

        RunFailed(String name, int exitCode, Path log) {
            super("the " + name + " run failed (exit " + exitCode + (exitCode == 137 ? ": killed, most likely out of "
                    + "memory" : "") + "); see " + log);
            this.exitCode = exitCode;
        }
    }

    /** VmHWM of a live process, in kB (0 once it is gone). */
    private static long peakRss(ProcessHandle process) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("\\D", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }
}

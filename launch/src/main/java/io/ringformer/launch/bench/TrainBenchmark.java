package io.ringformer.launch.bench;

import io.ringformer.launch.ConfigOptions;
import io.ringformer.worker.TrainConfig;
import io.ringformer.worker.Trainer;
import io.ringformer.worker.TrainingRun;
import io.ringformer.worker.exchange.LocalExchange;
import io.ringformer.zoo.family.Artifact;
import io.ringformer.zoo.family.DataSource;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Whole training steps (batch, forward, backward, clip, AdamW, copy back) of a config's model on its data: the
 * median and spread of the step time after warm-up, tokens/s at the median, the training thread's CPU time and heap
 * allocation per step (medians; on a shared machine the CPU time is the steadier figure), and the process's peak
 * RSS. Several
 * backend/precision variants run side by side in alternating rounds, with ratios to the first.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Time full training steps of a config (median and spread after warm-up, tokens/s, peak RSS).")
public final class TrainBenchmark implements Callable<Integer> {

    @Mixin
    ConfigOptions config;

    @Option(names = "--steps", defaultValue = "50", description = "Timed steps per variant (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--warmup", defaultValue = "30",
            description = "Untimed steps of each variant first; SameDiff's first ~20 run several times slower"
                    + " (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--variants", split = ",", paramLabel = "BACKEND:PRECISION",
            description = "Trainers to time side by side, e.g. samediff:fp32,fused:fp32,fused:bf16; ratios are to"
                    + " the first. Default: the config's model.backend and train.precision.")
    List<String> variants;

    @Option(names = "--rounds", defaultValue = "5",
            description = "The timed steps of the variants alternate in this many rounds, so that the machine's"
                    + " drift falls on all alike (default ${DEFAULT-VALUE}).")
    int rounds;

    /** One trainer under test and its steps' wall times, the thread's CPU times (ms) and heap bytes allocated. */
    private record Variant(String label, Trainer trainer, List<Double> millis, List<Double> cpuMillis,
                           List<Double> allocatedBytes) {}

    @Override
    public Integer call() {
        if (steps < 1 || warmup < 0 || rounds < 1) {
            throw new io.ringformer.protocol.InputException("--steps and --rounds must be at least 1 and --warmup not negative");
        }
        TrainConfig settings = config.load();
        Artifact artifact = TrainingRun.fitArtifact(settings);
        DataSource data = TrainingRun.openData(settings, artifact);
        List<String> asked = variants != null ? variants
                : List.of(settings.getString("model.backend") + ":" + settings.getString("train.precision"));
        List<Variant> timed = new ArrayList<>();
        for (String variant : asked) {
            String[] parts = variant.split(":");
            if (parts.length != 2) {
                throw new io.ringformer.protocol.InputException("--variants takes BACKEND:PRECISION items such as fused:bf16, got '"
                        + variant + "'");
            }
            TrainConfig variantSettings = TrainConfig.override(settings,
                    List.of("model.backend=" + parts[0], "train.precision=" + parts[1]));
            Trainer trainer = new Trainer(variantSettings, artifact, data, new LocalExchange(),
                    message -> System.out.println(variant + ": " + message));
            timed.add(new Variant(variant + " [" + trainer.backend() + "]", trainer, new ArrayList<>(),
                    new ArrayList<>(), new ArrayList<>()));
        }
        long itemsPerStep = timed.get(0).trainer().itemsPerStep();
        String items = timed.get(0).trainer().itemName();
        System.out.printf("%s (%s): %,d parameters, %d %s/step, OMP_NUM_THREADS=%s%n", config.name(),
                settings.family().name(), timed.get(0).trainer().parameterCount(), itemsPerStep, items,
                System.getenv().getOrDefault("OMP_NUM_THREADS", "unset"));
        for (Variant variant : timed) {
            for (int i = 0; i < warmup; i++) {
                variant.trainer().trainStep();
            }
        }
        com.sun.management.ThreadMXBean thread = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (int round = 0; round < rounds; round++) {
            int inRound = steps / rounds + (round < steps % rounds ? 1 : 0);
            for (Variant variant : timed) {
                for (int i = 0; i < inRound; i++) {
                    long cpuNanos = thread.getCurrentThreadCpuTime();
                    long allocated = thread.getCurrentThreadAllocatedBytes();
                    variant.millis().add(variant.trainer().trainStep().millis());
                    variant.cpuMillis().add((thread.getCurrentThreadCpuTime() - cpuNanos) / 1e6);
                    variant.allocatedBytes().add((double) (thread.getCurrentThreadAllocatedBytes() - allocated));
                }
            }
        }
        double baseline = median(timed.get(0).millis());
        for (Variant variant : timed) {
            double[] millis = variant.millis().stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double median = median(variant.millis());
            System.out.printf("%s%n  step: median %.1f ms, p10 %.1f, p90 %.1f, min %.1f, max %.1f (%d steps after %d"
                            + " warm-up); %.2fx the first; %,.0f %s/s%n", variant.label(), median,
                    millis[millis.length / 10], millis[Math.min(millis.length - 1, millis.length * 9 / 10)],
                    millis[0], millis[millis.length - 1], millis.length, warmup, baseline / median,
                    itemsPerStep / (median / 1000.0), items);
            System.out.printf("  thread CPU: median %.1f ms; heap allocated: median %,.0f bytes, max %,.0f%n",
                    median(variant.cpuMillis()), median(variant.allocatedBytes()),
                    variant.allocatedBytes().stream().mapToDouble(Double::doubleValue).max().orElse(0));
        }
        System.out.printf("peak RSS: %s%n", peakRss());
        return 0;
    }

    private static double median(List<Double> values) {
        double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return sorted[sorted.length / 2];
    }

    /** VmHWM from /proc/self/status (Linux). */
    static String peakRss() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmHWM:"))
                    .map(l -> l.substring(6).trim()).findFirst().orElse("unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }
}

package io.ringformer.launch.bench;

import io.ringformer.launch.ConfigOptions;
import io.ringformer.worker.TrainConfig;
import io.ringformer.worker.Trainer;
import io.ringformer.worker.TrainingRun;
import io.ringformer.worker.exchange.LocalExchange;
import io.ringformer.zoo.data.TextDataset;
import io.ringformer.zoo.text.CharTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Whole training steps (batch, forward, backward, clip, AdamW, copy back) of a config's model on its data: the
 * median and spread of the step time after warm-up, tokens/s at the median, and the process's peak RSS.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Time full training steps of a config (median and spread after warm-up, tokens/s, peak RSS).")
public final class TrainBenchmark implements Callable<Integer> {

    @Mixin
    ConfigOptions config;

    @Option(names = "--steps", defaultValue = "50", description = "Timed steps (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--warmup", defaultValue = "30",
            description = "Untimed steps first; the first ~20 run several times slower (default ${DEFAULT-VALUE}).")
    int warmup;

    @Override
    public Integer call() {
        if (steps < 1 || warmup < 0) {
            throw new IllegalArgumentException("--steps must be at least 1 and --warmup not negative");
        }
        TrainConfig settings = config.load();
        String text = TrainingRun.readText(Path.of(settings.getString("data.path")));
        CharTokenizer tokenizer = CharTokenizer.fit(text);
        Trainer trainer = new Trainer(settings, TextDataset.of(text, tokenizer, settings.getDouble("data.train_fraction")),
                tokenizer.vocabSize(), new LocalExchange());
        long tokensPerStep = (long) settings.getInt("train.batch_size") * settings.getInt("model.block_size");
        System.out.printf("%s: %,d parameters, %d tokens/step, precision %s, OMP_NUM_THREADS=%s%n", config.name(),
                trainer.parameterCount(), tokensPerStep, settings.getString("train.precision"),
                System.getenv().getOrDefault("OMP_NUM_THREADS", "unset"));
        for (int i = 0; i < warmup; i++) {
            trainer.trainStep();
        }
        double[] millis = new double[steps];
        for (int i = 0; i < steps; i++) {
            millis[i] = trainer.trainStep().millis();
        }
        Arrays.sort(millis);
        double median = millis[steps / 2];
        System.out.printf("step: median %.1f ms, p10 %.1f, p90 %.1f, min %.1f, max %.1f (%d steps after %d warm-up)%n",
                median, millis[steps / 10], millis[Math.min(steps - 1, steps * 9 / 10)], millis[0], millis[steps - 1],
                steps, warmup);
        System.out.printf("throughput: %,.0f tokens/s at the median step%n", tokensPerStep / (median / 1000.0));
        System.out.printf("peak RSS: %s%n", peakRss());
        return 0;
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

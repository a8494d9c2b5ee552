package io.ringformer.launch.bench;

import io.ringformer.zoo.attention.PositionType;
import io.ringformer.zoo.gpt.Gpt;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Forward + backward of one GPT step ({@code calculateGradients} of every parameter), on random tokens. The
 * defaults are nanoGPT's Shakespeare-char CPU configuration. Run it with one thread: {@code OMP_NUM_THREADS=1}.
 */
@Command(name = "model", mixinStandardHelpOptions = true,
        description = "Time forward+backward of one GPT step (median of timed steps after warm-up).")
public final class ModelBenchmark implements Callable<Integer> {

    @Option(names = "--layers", defaultValue = "4", description = "Blocks (default ${DEFAULT-VALUE}).")
    int layers;
    @Option(names = "--heads", defaultValue = "4", description = "Heads (default ${DEFAULT-VALUE}).")
    int heads;
    @Option(names = "--width", defaultValue = "128", description = "Model width (default ${DEFAULT-VALUE}).")
    int width;
    @Option(names = "--block", defaultValue = "64", description = "Block size (default ${DEFAULT-VALUE}).")
    int block;
    @Option(names = "--batch", defaultValue = "12", description = "Batch size (default ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--vocab", defaultValue = "65", description = "Vocabulary (default ${DEFAULT-VALUE}).")
    int vocab;
    @Option(names = "--positions", defaultValue = "learned",
            description = "learned, sinusoidal, rope or alibi (default ${DEFAULT-VALUE}).")
    String positions;
    @Option(names = "--warmup", defaultValue = "30", description = "Untimed steps (default ${DEFAULT-VALUE}).")
    int warmup;
    @Option(names = "--steps", defaultValue = "30", description = "Timed steps (default ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--profile", description = "Also print where the time goes, per op type.")
    boolean profile;

    @Override
    public Integer call() {
        Gpt.Config config = new Gpt.Config(vocab, block, layers, heads, width, 0, PositionType.parse(positions));
        Gpt gpt = Gpt.build(config, DataType.FLOAT, 1, true);
        SameDiff sd = gpt.graph();
        String[] parameters = gpt.parameterNames().toArray(String[]::new);
        Map<String, INDArray> feed = randomBatch();
        System.out.printf("GPT %s, batch %d, %d graph ops, OMP_NUM_THREADS=%s%n", config, batch,
                sd.getOps().size(), System.getenv().getOrDefault("OMP_NUM_THREADS", "unset"));

        OpProfile opProfile = new OpProfile();
        if (profile) {
            sd.addListeners(opProfile);
        }
        for (int i = 0; i < warmup; i++) {
            sd.calculateGradients(feed, parameters);
        }
        opProfile.start();
        double[] millis = new double[steps];
        for (int i = 0; i < steps; i++) {
            long start = System.nanoTime();
            sd.calculateGradients(feed, parameters);
            millis[i] = (System.nanoTime() - start) / 1e6;
        }
        opProfile.stop();
        if (System.getenv("RINGFORMER_BENCH_TRACE") != null) {
            System.out.println("steps (ms): " + Arrays.toString(Arrays.stream(millis).mapToLong(Math::round).toArray()));
        }
        Arrays.sort(millis);
        double median = millis[steps / 2];
        System.out.printf("forward+backward: median %.1f ms (p10 %.1f, p90 %.1f, min %.1f) over %d steps; "
                        + "%.0f tokens/s%n", median, millis[steps / 10], millis[steps * 9 / 10], millis[0], steps,
                batch * block / (median / 1000.0));
        if (profile) {
            opProfile.table(steps).forEach(System.out::println);
        }
        return 0;
    }

    private Map<String, INDArray> randomBatch() {
        SplittableRandom random = new SplittableRandom(1);
        int[][] tokens = new int[batch][block];
        for (int[] row : tokens) {
            for (int t = 0; t < block; t++) {
                row[t] = random.nextInt(vocab);
            }
        }
        Map<String, INDArray> feed = new HashMap<>();
        feed.put(Gpt.TOKENS, Nd4j.createFromArray(tokens));
        feed.put(Gpt.TARGETS, Nd4j.createFromArray(tokens));
        return feed;
    }
}

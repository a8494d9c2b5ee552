package io.ringformer.launch;

import io.ringformer.worker.TrainedModel;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ringformer eval}: validation loss and perplexity of a checkpoint, on the data it was trained with. */
@Command(name = "eval", mixinStandardHelpOptions = true, description = "Print val loss and perplexity.")
public final class EvalCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "A checkpoint directory, or a run directory (its newest valid checkpoint).")
    Path checkpoint;

    @Option(names = "--iters", paramLabel = "N",
            description = "Batches to average over (default: the checkpoint's eval.iters).")
    Integer iterations;

    @Override
    public Integer call() {
        TrainedModel model = TrainedModel.load(checkpoint, System.err::println);
        Map<String, Double> metrics = model.evaluate(iterations == null ? model.config().getInt("eval.iters")
                : iterations);
        double loss = metrics.values().iterator().next();
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "checkpoint %s (step %d): val loss %.4f",
                model.checkpoint().directory(), model.checkpoint().step(), loss));
        metrics.forEach((name, value) -> {
            if (!name.equals("loss")) {
                line.append(String.format(Locale.ROOT, ", %s %.4f", name, value));
            }
        });
        if (metrics.size() == 1) {
            line.append(String.format(Locale.ROOT, ", perplexity %.3f", Math.exp(loss)));
        }
        System.out.println(line);
        return 0;
    }
}

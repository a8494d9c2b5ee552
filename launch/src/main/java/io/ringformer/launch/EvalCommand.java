package io.ringformer.launch;

import io.ringformer.worker.TrainedModel;
import java.nio.file.Path;
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
        double loss = model.validationLoss(iterations == null ? model.config().getInt("eval.iters") : iterations);
        System.out.printf("checkpoint %s (step %d): val loss %.4f, perplexity %.3f%n",
                model.checkpoint().directory(), model.checkpoint().step(), loss, Math.exp(loss));
        return 0;
    }
}

package io.ringformer.launch;

import io.ringformer.worker.TrainedModel;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ringformer generate}: continue a prompt with a trained model; the text goes to stdout. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Sample text from a checkpoint.")
public final class GenerateCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "A checkpoint directory, or a run directory (its newest valid checkpoint).")
    Path checkpoint;

    @Option(names = "--prompt", defaultValue = "\n", description = "Text to continue (default: a newline).")
    String prompt;

    @Option(names = "--tokens", defaultValue = "500", description = "Characters to generate (default ${DEFAULT-VALUE}).")
    int tokens;

    @Option(names = "--temperature", defaultValue = "0.8",
            description = "Sampling temperature; 0 is greedy (default ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-k", defaultValue = "0", description = "Keep the k likeliest tokens; 0 keeps all.")
    int topK;

    @Option(names = "--seed", defaultValue = "1", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() {
        if (tokens < 0 || temperature < 0 || topK < 0) {
            throw new UsageException("--tokens, --temperature and --top-k must not be negative");
        }
        TrainedModel model = TrainedModel.load(checkpoint, System.err::println);
        System.out.print(prompt);
        System.out.println(model.generate(prompt, tokens, temperature, topK, seed));
        return 0;
    }
}

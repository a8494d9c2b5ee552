package io.ringformer.launch;

import io.ringformer.worker.TrainedModel;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ringformer predict-next}: a GPT's distribution over the token after a text, its top K on stdout. */
@Command(name = "predict-next", mixinStandardHelpOptions = true,
        description = "Print the likeliest next tokens after a text, with their probabilities.")
public final class PredictNextCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "A checkpoint directory, or a run directory (its newest valid checkpoint).")
    Path checkpoint;

    @Option(names = "--text", required = true, description = "The text whose next token to predict.")
    String text;

    @Option(names = "--top", defaultValue = "5", paramLabel = "K",
            description = "How many tokens to print, likeliest first (default ${DEFAULT-VALUE}).")
    int top;

    @Override
    public Integer call() {
        if (top < 1) {
            throw new UsageException("--top must be at least 1");
        }
        TrainedModel model = TrainedModel.load(checkpoint, System.err::println);
        System.out.printf("%-8s %11s %9s%n", "token", "probability", "logit");
        for (TrainedModel.Prediction p : model.predictNext(text, top)) {
            System.out.printf("%-8s %11.4f %9.3f%n", printable(p.token()), p.probability(), p.logit());
        }
        return 0;
    }

    /** A token as a reader can see it: whitespace and control characters escaped, quoted. */
    public static String printable(String token) {
        StringBuilder out = new StringBuilder("'");
        for (char c : token.toCharArray()) {
            out.append(switch (c) {
                case '\n' -> "\\n";
                case '\t' -> "\\t";
                case '\r' -> "\\r";
                case '\'' -> "\\'";
                default -> c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c);
            });
        }
        return out.append('\'').toString();
    }
}

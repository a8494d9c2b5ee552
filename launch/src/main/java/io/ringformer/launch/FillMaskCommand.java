package io.ringformer.launch;

import io.ringformer.worker.TrainedModel;
import io.ringformer.zoo.bert.Bert;
import io.ringformer.zoo.bert.MaskFiller;
import io.ringformer.zoo.text.WordPieceTokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ringformer fill-mask}: a BERT checkpoint's guesses for each [MASK] of a text, on stdout. */
@Command(name = "fill-mask", mixinStandardHelpOptions = true,
        description = "Guess the tokens behind each [MASK] of a text with a bert checkpoint.")
public final class FillMaskCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "A checkpoint directory, or a run directory (its newest valid checkpoint).")
    Path checkpoint;

    @Option(names = "--text", required = true, description = "Text with one or more [MASK], e.g. \"Call me [MASK].\"")
    String text;

    @Option(names = "--top-k", defaultValue = "5", description = "Guesses per [MASK] (default ${DEFAULT-VALUE}).")
    int topK;

    @Override
    public Integer call() {
        if (topK < 1) {
            throw new UsageException("--top-k must be at least 1");
        }
        if (!text.contains("[MASK]")) {
            throw new UsageException("--text has no [MASK] to fill, e.g. --text \"Call me [MASK].\"");
        }
        TrainedModel trained = TrainedModel.load(checkpoint, System.err::println);
        String family = trained.config().family().name();
        if (!(trained.artifact() instanceof WordPieceTokenizer tokenizer) || !(trained.model() instanceof Bert bert)) {
            throw new UsageException("fill-mask needs a bert model; checkpoint " + trained.checkpoint().directory()
                    + " holds a " + family + " model");
        }
        List<List<MaskFiller.Guess>> guesses;
        try {
            guesses = new MaskFiller(bert, tokenizer).fill(text, topK);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--text: " + e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut();
        for (int m = 0; m < guesses.size(); m++) {
            if (guesses.size() > 1) {
                out.printf("[MASK] %d of %d%n", m + 1, guesses.size());
            }
            for (MaskFiller.Guess guess : guesses.get(m)) {
                out.printf(Locale.ROOT, "%-16s %.4f%n", guess.token(), guess.probability());
            }
        }
        out.flush();
        return 0;
    }
}

package io.ringformer.launch;

import io.ringformer.zoo.text.WordPieceTokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ringformer tokenizer train}: a subword vocabulary from a text file, saved as a {@code tokenizer.json}. */
@Command(name = "tokenizer", mixinStandardHelpOptions = true, description = "Train tokenizers.",
        subcommands = {TokenizerCommand.TrainTokenizerCommand.class})
public final class TokenizerCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Train a tokenizer on a UTF-8 text file and save it as a Hugging Face tokenizer.json.")
    static final class TrainTokenizerCommand implements Callable<Integer> {

        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--kind", defaultValue = "wordpiece",
                description = "Tokenizer kind; only wordpiece (BERT's, lowercased) for now (default ${DEFAULT-VALUE}).")
        String kind;

        @Option(names = "--vocab", required = true, paramLabel = "N",
                description = "Vocabulary size, the 5 special tokens included.")
        int vocabSize;

        @Option(names = "--input", required = true, paramLabel = "FILE", description = "Training text, UTF-8.")
        Path input;

        @Option(names = "--out", required = true, paramLabel = "FILE", description = "Where to write tokenizer.json.")
        Path out;

        @Override
        public Integer call() throws IOException {
            if (!kind.equals("wordpiece")) {
                throw new UsageException("--kind " + kind + " is not supported; the only kind is wordpiece");
            }
            if (!Files.isRegularFile(input)) {
                throw new UsageException("--input " + input + ": no such file");
            }
            Path folder = out.toAbsolutePath().getParent();
            if (folder == null || !Files.isDirectory(folder)) {
                throw new UsageException("--out " + out + ": the folder " + folder + " does not exist");
            }
            String text;
            try {
                text = Files.readString(input, StandardCharsets.UTF_8);
            } catch (CharacterCodingException e) {
                throw new UsageException("--input " + input + ": not UTF-8 text");
            }
            long start = System.nanoTime();
            WordPieceTokenizer tokenizer;
            try {
                tokenizer = WordPieceTokenizer.train(text, vocabSize);
            } catch (IllegalArgumentException e) {
                throw new UsageException("--input " + input + ", --vocab " + vocabSize + ": " + e.getMessage());
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            tokenizer.save(out);
            int words = WordPieceTokenizer.words(text).size();
            int tokens = tokenizer.encode(text).length;
            PrintWriter console = spec.commandLine().getOut();
            console.printf("wordpiece: vocabulary %d tokens (asked %d), trained on %d words of %s in %.2f s%n",
                    tokenizer.vocabSize(), vocabSize, words, input, seconds);
            console.printf("wordpiece: %.3f tokens per word of the input; saved %s%n", (double) tokens / words, out);
            console.flush();
            return 0;
        }
    }
}

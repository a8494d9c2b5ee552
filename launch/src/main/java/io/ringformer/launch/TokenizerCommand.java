package io.ringformer.launch;

import io.ringformer.zoo.text.SentencePieceTokenizer;
import io.ringformer.zoo.text.WordPieceTokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ringformer tokenizer train}: a subword vocabulary from text files, saved as a {@code tokenizer.json}: unigram
 * or BPE in SentencePiece style (T5), or WordPiece (BERT).
 */
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
            description = "Train a tokenizer on UTF-8 text files and save it as a Hugging Face tokenizer.json.")
    static final class TrainTokenizerCommand implements Callable<Integer> {

        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--kind", defaultValue = "wordpiece", paramLabel = "KIND",
                description = "unigram or bpe (SentencePiece style, cased, for T5), or wordpiece (BERT's, "
                        + "lowercased) (default ${DEFAULT-VALUE}).")
        String kind;

        @Option(names = "--vocab", required = true, paramLabel = "N",
                description = "Vocabulary size, special tokens and sentinels included.")
        int vocabSize;

        @Option(names = "--input", required = true, paramLabel = "FILE",
                description = "Training text, UTF-8; repeat for several files (English and Spanish, say).")
        List<Path> inputs;

        @Option(names = "--out", required = true, paramLabel = "FILE", description = "Where to write tokenizer.json.")
        Path out;

        @Option(names = "--sentinels", defaultValue = "" + SentencePieceTokenizer.DEFAULT_SENTINELS, paramLabel = "N",
                description = "unigram and bpe: sentinel tokens <extra_id_0>... at the end of the vocabulary "
                        + "(default ${DEFAULT-VALUE}, T5's).")
        int sentinels;

        @Override
        public Integer call() throws IOException {
            if (!List.of("unigram", "bpe", "wordpiece").contains(kind)) {
                throw new UsageException("--kind " + kind + " is not supported; the kinds are unigram, bpe and "
                        + "wordpiece");
            }
            List<String> texts = new ArrayList<>();
            for (Path input : inputs) {
                if (!Files.isRegularFile(input)) {
                    throw new UsageException("--input " + input + ": no such file");
                }
            }
            Path folder = out.toAbsolutePath().getParent();
            if (folder == null || !Files.isDirectory(folder)) {
                throw new UsageException("--out " + out + ": the folder " + folder + " does not exist");
            }
            for (Path input : inputs) {
                try {
                    texts.add(Files.readString(input, StandardCharsets.UTF_8));
                } catch (CharacterCodingException e) {
                    throw new UsageException("--input " + input + ": not UTF-8 text");
                }
            }
            String inputNames = inputs.stream().map(Path::toString).collect(Collectors.joining(", "));
            PrintWriter console = spec.commandLine().getOut();
            long start = System.nanoTime();
            if (kind.equals("wordpiece")) {
                String text = String.join("\n", texts);
                WordPieceTokenizer tokenizer;
                try {
                    tokenizer = WordPieceTokenizer.train(text, vocabSize);
                } catch (IllegalArgumentException e) {
                    throw new UsageException("--input " + inputNames + ", --vocab " + vocabSize + ": " + e.getMessage());
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                tokenizer.save(out);
                int words = WordPieceTokenizer.words(text).size();
                int tokens = tokenizer.encode(text).length;
                console.printf("wordpiece: vocabulary %d tokens (asked %d), trained on %d words of %s in %.2f s%n",
                        tokenizer.vocabSize(), vocabSize, words, inputNames, seconds);
                console.printf("wordpiece: %.3f tokens per word of the input; saved %s%n", (double) tokens / words,
                        out);
            } else {
                SentencePieceTokenizer tokenizer;
                try {
                    tokenizer = SentencePieceTokenizer.train(SentencePieceTokenizer.Kind.parse(kind), texts,
                            vocabSize, sentinels);
                } catch (IllegalArgumentException e) {
                    throw new UsageException("--input " + inputNames + ", --vocab " + vocabSize + ": "
                            + e.getMessage());
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                tokenizer.save(out);
                console.printf("%s: vocabulary %d tokens (asked %d; %d sentinels), trained on %s in %.2f s%n", kind,
                        tokenizer.vocabSize(), vocabSize, tokenizer.sentinelCount(), inputNames, seconds);
                for (int i = 0; i < inputs.size(); i++) {
                    long words = 0;
                    long tokens = 0;
                    for (String line : texts.get(i).split("\n")) {
                        words += SentencePieceTokenizer.words(line).size();
                        tokens += tokenizer.encode(line).length;
                    }
                    console.printf("%s: %.3f tokens per word of %s%n", kind, (double) tokens / Math.max(1, words),
                            inputs.get(i));
                }
                console.printf("%s: saved %s%n", kind, out);
            }
            console.flush();
            return 0;
        }
    }
}

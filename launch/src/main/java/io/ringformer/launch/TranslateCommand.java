package io.ringformer.launch;

import io.ringformer.worker.TrainedModel;
import io.ringformer.zoo.metrics.Bleu;
import io.ringformer.zoo.metrics.ChrF;
import io.ringformer.zoo.t5.BibleSplit;
import io.ringformer.zoo.t5.BibleVerses;
import io.ringformer.zoo.t5.Copying;
import io.ringformer.zoo.t5.Seq2SeqBatch;
import io.ringformer.zoo.t5.T5;
import io.ringformer.zoo.t5.Translator;
import io.ringformer.zoo.text.SentencePieceTokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ringformer translate}: a T5 checkpoint's English → Spanish translation of a text (the best, or the K best
 * with their scores), or of the test books with corpus BLEU and chrF, as sacreBLEU's defaults compute them.
 */
@Command(name = "translate", mixinStandardHelpOptions = true,
        description = "Translate English into Spanish with a t5 checkpoint; --test-books scores the held-out books.")
public final class TranslateCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "A checkpoint directory, or a run directory (its newest valid checkpoint).")
    Path checkpoint;

    @ArgGroup(exclusive = true, multiplicity = "1")
    What what;

    static final class What {
        @Option(names = "--text", description = "The English text to translate.")
        String text;

        @Option(names = "--test-books", description = "Translate every verse of the test books ("
                + "Ruth, Lamentations, Jonah, Habakkuk, Philippians, James, I John, Jude) and score them.")
        boolean testBooks;
    }

    @Option(names = "--beam", defaultValue = "1", paramLabel = "K",
            description = "Beam width; 1 is greedy decoding. With --text, prints the K best with their "
                    + "log-probabilities (default ${DEFAULT-VALUE}).")
    int beam;

    @Option(names = "--no-repeat-ngram", defaultValue = "0", paramLabel = "N",
            description = "Never emit the same N tokens twice in one translation (greedy and beam); 0 allows "
                    + "repeats (default ${DEFAULT-VALUE}).")
    int noRepeatNgram;

    @Option(names = "--limit", defaultValue = "0", paramLabel = "N",
            description = "With --test-books, only the first N verses (default: all).")
    int limit;

    @Option(names = "--no-cache", description = "Decode without the key/value cache (greedy only): to measure what "
            + "the cache saves.")
    boolean noCache;

    @Option(names = "--bible", defaultValue = "data/bible", paramLabel = "DIR",
            description = "With --test-books, where kjv.imp and sparv.imp are (default ${DEFAULT-VALUE}).")
    Path bible;

    @Override
    public Integer call() {
        if (beam < 1 || limit < 0 || noRepeatNgram < 0) {
            throw new UsageException("--beam must be at least 1, --limit and --no-repeat-ngram not negative");
        }
        if (noCache && beam > 1) {
            throw new UsageException("--no-cache decodes greedily: drop --beam, or drop --no-cache");
        }
        TrainedModel trained = TrainedModel.load(checkpoint, System.err::println);
        if (!(trained.artifact() instanceof SentencePieceTokenizer tokenizer) || !(trained.model() instanceof T5 t5)) {
            throw new UsageException("translate needs a t5 model; checkpoint " + trained.checkpoint().directory()
                    + " holds a " + trained.config().family().name() + " model");
        }
        Translator translator = new Translator(t5.config(), name -> t5.graph().getVariable(name).getArr());
        Decoder decoder = new Decoder(translator, tokenizer, t5.config(), beam, noRepeatNgram, noCache);
        PrintWriter out = spec.commandLine().getOut();
        if (what.text != null) {
            List<Translator.Hypothesis> best = decoder.translate(what.text);
            for (Translator.Hypothesis hypothesis : best) {
                out.println(beam == 1 ? tokenizer.decode(hypothesis.tokens())
                        : String.format(Locale.ROOT, "%9.3f  %s", hypothesis.logProbability(),
                                tokenizer.decode(hypothesis.tokens())));
            }
        } else {
            scoreTestBooks(decoder, tokenizer, trained.config().getBoolean("data.verse_numbers"), out);
        }
        out.flush();
        return 0;
    }

    /**
     * Translates the test books' verses in order, then prints BLEU, chrF, what was copied ({@link Copying}), the speed
     * and three examples. A model trained with {@code data.verse_numbers} reads each verse with its number in front,
     * as it was trained; its translations are scored without the number.
     */
    private void scoreTestBooks(Decoder decoder, SentencePieceTokenizer tokenizer, boolean verseNumbers,
                                PrintWriter out) {
        List<BibleVerses.Pair> verses;
        try {
            verses = BibleSplit.TEST.of(BibleVerses.read(bible.resolve(BibleVerses.KJV_FILE.getFileName()),
                    bible.resolve(BibleVerses.SPARV_FILE.getFileName())));
        } catch (IllegalArgumentException e) {
            throw new UsageException("--bible " + bible + ": " + e.getMessage());
        }
        if (limit > 0 && limit < verses.size()) {
            verses = verses.subList(0, limit);
        }
        List<String> outputs = new ArrayList<>();                          // as decoded, verse numbers included
        List<String> hypotheses = new ArrayList<>();
        List<String> references = new ArrayList<>();
        long tokens = 0;
        long startNs = System.nanoTime();
        for (BibleVerses.Pair verse : verses) {
            String source = verseNumbers ? Copying.numbered(verse).english() : verse.english();
            Translator.Hypothesis best = decoder.translate(source).get(0);
            tokens += best.tokens().length + 1;
            outputs.add(tokenizer.decode(best.tokens()));
            hypotheses.add(verseNumbers ? Copying.withoutVerseNumber(outputs.get(outputs.size() - 1))
                    : outputs.get(outputs.size() - 1));
            references.add(verse.spanish());
        }
        double seconds = (System.nanoTime() - startNs) / 1e9;
        Bleu.Score bleu = Bleu.corpus(hypotheses, references);
        out.printf(Locale.ROOT, "test books: %d verses, %s, beam %d%s%s%n", verses.size(),
                String.join(", ", BibleSplit.TEST_BOOKS.stream().sorted().toList()), beam,
                noRepeatNgram > 0 ? ", no repeated " + noRepeatNgram + "-grams" : "", noCache ? ", no cache" : "");
        out.printf(Locale.ROOT, "BLEU %.2f (%s)%n", bleu.score(), bleu);
        out.printf(Locale.ROOT, "chrF %.2f%n", ChrF.corpus(hypotheses, references));
        Copying.Tally copied = Copying.Tally.of(verses.stream().map(BibleVerses.Pair::key).toList(),
                verses.stream().map(BibleVerses.Pair::english).toList(), references, outputs);
        if (verseNumbers) {
            out.printf(Locale.ROOT, "verse numbers copied: %d of %d%n", copied.numbersCopied(), copied.verses());
        }
        out.printf(Locale.ROOT, "names copied: %d of %d (capitalised words spelled alike in source and "
                + "reference)%n", copied.namesCopied(), copied.names());
        out.printf(Locale.ROOT, "decoding: %.1f s, %.1f verses/s, %.0f tokens/s%n", seconds, verses.size() / seconds,
                tokens / seconds);
        for (int i = 0; i < Math.min(3, verses.size()); i++) {
            int at = i * (verses.size() / 3);                            // spread over the books
            out.printf("%n%s%n  source     %s%n  reference  %s%n  ringformer %s%n", verses.get(at).key(),
                    verses.get(at).english(), references.get(at), outputs.get(at));
        }
    }

    /** Text → ids → the translator's best hypotheses, with the options of the command. */
    private record Decoder(Translator translator, SentencePieceTokenizer tokenizer, T5.Config shape, int beam,
                           int noRepeatNgram, boolean noCache) {

        List<Translator.Hypothesis> translate(String english) {
            // as the training data: the first S − 1 ids, then EOS
            Translator.Source source = translator.encode(Seq2SeqBatch.withEos(tokenizer.encode(english),
                    shape.sourceLength()));
            if (noCache) {
                return List.of(translator.greedyUncached(source, shape.targetLength(), noRepeatNgram));
            }
            return translator.beam(source, beam, shape.targetLength(), noRepeatNgram);
        }
    }
}

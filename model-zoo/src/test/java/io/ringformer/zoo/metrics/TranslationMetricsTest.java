package io.ringformer.zoo.metrics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hand-computed BLEU and chrF cases, and sacreBLEU itself (when python3 has it) on real sentence pairs. */
class TranslationMetricsTest {

    private static final double EXACT = 1e-9;

    @Test
    void tokenizer13aSplitsAsciiPunctuationButNotNumbersApostrophesOrWordHyphens() {
        // Period and comma stay inside numbers; a hyphen splits only after a digit; ' stays in words.
        assertEquals("Hello , world ! It's 3.14 and 1,000 .", Tokenizer13a.tokenize("Hello, world! It's 3.14 and 1,000."));
        assertEquals("vv . 1 - 3 and 5 - 3 well-known \" quoted \" ( x ) a / b",
                Tokenizer13a.tokenize("vv. 1-3 and 5-3 well-known \"quoted\" (x) a/b"));
        // Colons split verse numbers; non-ASCII punctuation (¿) is left alone; entities are unescaped in order.
        assertEquals("Dios : Sea la luz : y fué la luz .", Tokenizer13a.tokenize("Dios: Sea la luz: y fué la luz."));
        assertEquals("\" Ahab \" < 1 : 1 ¿Qué ?", Tokenizer13a.tokenize("&quot;Ahab&quot; &amp;lt; 1:1 ¿Qué?"));
        assertEquals("a b", Tokenizer13a.tokenize(" a\u3000\tb\n"));
    }

    @Test
    void aPerfectMatchIs100() {
        Bleu.Score bleu = Bleu.corpus(List.of("The whale, Moby Dick.", "Sea la luz."),
                List.of("The whale, Moby Dick.", "Sea la luz."));
        assertEquals(100.0, bleu.score(), EXACT);
        assertEquals(1.0, bleu.brevityPenalty());
        assertEquals(100.0, ChrF.corpus(List.of("Sea la luz."), List.of("Sea la luz.")), EXACT);
    }

    @Test
    void aShortHypothesisPaysTheBrevityPenalty() {
        // 5 hypothesis tokens, all of whose n-grams match (5/5, 4/4, 3/3, 2/2): precisions 100; r = 6, c = 5:
        // BP = exp(1 − 6/5) = exp(−0.2) = 0.81873…, BLEU = 81.873…
        Bleu.Score bleu = Bleu.corpus(List.of("the cat sat on the"), List.of("the cat sat on the mat"));
        assertArrayEquals(new double[] {100, 100, 100, 100}, bleu.precisions(), EXACT);
        assertEquals(Math.exp(-0.2), bleu.brevityPenalty(), EXACT);
        assertEquals(100 * Math.exp(-0.2), bleu.score(), EXACT);
    }

    @Test
    void clippingCountsAWordNoMoreOftenThanTheReferenceHasIt() {
        // "the" ×7 against a reference with "the" twice: unigram matches clip to 2 of 7. No bigram or longer
        // matches, so "exp" smoothing: p2 = 100 / (2·6), p3 = 100 / (4·5), p4 = 100 / (8·4). c = 7 ≥ r = 6: BP 1.
        // BLEU = (28.571 · 8.333 · 5 · 3.125)^¼ = 3720.24^¼ = 7.8098… (sacreBLEU: 7.809849842300637)
        Bleu.Score bleu = Bleu.corpus(List.of("the the the the the the the"), List.of("the cat is on the mat"));
        assertArrayEquals(new long[] {2, 0, 0, 0}, bleu.matches());
        assertArrayEquals(new long[] {7, 6, 5, 4}, bleu.totals());
        assertEquals(Math.pow(100.0 * 2 / 7 * 100.0 / 12 * 100.0 / 20 * 100.0 / 32, 0.25), bleu.score(), EXACT);
        assertEquals(7.809849842300637, bleu.score(), EXACT);
    }

    @Test
    void aZeroFourGramPrecisionIsSmoothedNotFatal() {
        // hyp: the whale swam far away quickly (6) — ref: the whale swam away quickly (5)
        // 1-grams 5/6 (far misses), 2-grams 3/5 (the whale, whale swam, away quickly), 3-grams 1/4 (the whale swam),
        // 4-grams 0/3 → the first order without matches gets 100 / (2 · 3) = 16.67. c = 6 ≥ r = 5: BP 1.
        // BLEU = (83.33 · 60 · 25 · 16.67)^¼ = 2083333^¼ = 37.99… (sacreBLEU: 37.99178428257963)
        Bleu.Score bleu = Bleu.corpus(List.of("the whale swam far away quickly"),
                List.of("the whale swam away quickly"));
        assertArrayEquals(new long[] {5, 3, 1, 0}, bleu.matches());
        assertEquals(100.0 / 6, bleu.precisions()[3], EXACT);
        assertEquals(Math.pow(100.0 * 5 / 6 * 100.0 * 3 / 5 * 100.0 / 4 * 100.0 / 6, 0.25), bleu.score(), EXACT);
        assertEquals(37.99178428257963, bleu.score(), EXACT);
        // Nothing matches at all: 0, however many orders are smoothed.
        assertEquals(0.0, Bleu.corpus(List.of("ballena"), List.of("whale")).score());
        // Every hypothesis shorter than 4 tokens: no 4-grams at all, so the loop stops and BLEU is 0.
        assertEquals(0.0, Bleu.corpus(List.of("the whale"), List.of("the whale")).score());
    }

    @Test
    void chrFAveragesPrecisionAndRecallOverOrdersBeforeTheFScore() {
        // hyp "ab", ref "abc": 1-grams P = 2/2, R = 2/3; 2-grams P = 1/1, R = 1/2; 3-grams: the hypothesis has none,
        // so that order does not count. P = 1, R = (2/3 + 1/2) / 2 = 7/12; F2 = 5PR / (4P + R) = 35/55 = 63.636…
        // (Averaging per-order F-scores instead would give (0.7143 + 0.5556) / 2 = 63.49.)
        assertEquals(100.0 * 7 / 11, ChrF.corpus(List.of("ab"), List.of("abc")), EXACT);
        // Whitespace is removed: "a bc" against "abd": P = R = (2/3 + 1/2 + 0) / 3 = 7/18 → 38.888…
        assertEquals(100.0 * 7 / 18, ChrF.corpus(List.of("a bc"), List.of("abd")), EXACT);
        assertEquals(0.0, ChrF.corpus(List.of("xyz"), List.of("abc")), EXACT);
        assertThrows(IllegalArgumentException.class, () -> ChrF.corpus(List.of("a"), List.of()));
        assertThrows(IllegalArgumentException.class, () -> Bleu.corpus(List.of("a"), List.of("a", "b")));
    }

    /**
     * Genesis 1–2 in Spanish as references; hypotheses are the verses degraded in different ways (words dropped,
     * swapped, replaced, lowercased, punctuation lost, another verse), so the scores span the range.
     */
    @Test
    void equalsSacreBleuOnRealSentencePairs(@TempDir Path dir) throws Exception {
        assumeTrue(sacreBleuAvailable(), "python3 with sacrebleu is not installed (pip install sacrebleu); "
                + "skipping the comparison with sacreBLEU");
        List<String> references = genesis();
        List<String> hypotheses = new ArrayList<>();
        for (int i = 0; i < references.size(); i++) {
            hypotheses.add(degrade(references.get(i), i, references));
        }
        Path hyp = Files.write(dir.resolve("hyp.txt"), hypotheses, StandardCharsets.UTF_8);
        Path ref = Files.write(dir.resolve("ref.txt"), references, StandardCharsets.UTF_8);
        String script = "import sacrebleu,sys\n"
                + "h=open(sys.argv[1],encoding='utf-8').read().split('\\n')[:-1]\n"
                + "r=open(sys.argv[2],encoding='utf-8').read().split('\\n')[:-1]\n"
                + "print(repr(sacrebleu.corpus_bleu(h,[r]).score))\n"
                + "print(repr(sacrebleu.corpus_chrf(h,[r]).score))\n"
                + "for a,b in zip(h,r): print(repr(sacrebleu.corpus_bleu([a],[[b]]).score), "
                + "repr(sacrebleu.corpus_chrf([a],[[b]]).score))\n";
        List<String> out = python(script, hyp.toString(), ref.toString());
        assertEquals(Double.parseDouble(out.get(0)), Bleu.corpus(hypotheses, references).score(), EXACT);
        assertEquals(Double.parseDouble(out.get(1)), ChrF.corpus(hypotheses, references), EXACT);
        for (int i = 0; i < hypotheses.size(); i++) {   // sentence by sentence too: many more edge cases
            String[] expected = out.get(2 + i).split(" ");
            List<String> h = List.of(hypotheses.get(i));
            List<String> r = List.of(references.get(i));
            assertEquals(Double.parseDouble(expected[0]), Bleu.corpus(h, r).score(), EXACT, hypotheses.get(i));
            assertEquals(Double.parseDouble(expected[1]), ChrF.corpus(h, r), EXACT, hypotheses.get(i));
        }
    }

    static List<String> genesis() throws IOException {
        try (InputStream in = TranslationMetricsTest.class.getResourceAsStream(
                "/io/ringformer/zoo/text/genesis-1-2-reina-valera-1909.tsv")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines()
                    .filter(line -> !line.startsWith("#"))
                    .map(line -> line.substring(line.indexOf('\t') + 1))
                    .toList();
        }
    }

    private static String degrade(String verse, int i, List<String> all) {
        List<String> words = new ArrayList<>(Arrays.asList(verse.split(" ")));
        switch (i % 6) {
            case 0 -> { // drop every fourth word
                for (int k = words.size() - 1; k >= 0; k--) {
                    if (k % 4 == 3) {
                        words.remove(k);
                    }
                }
            }
            case 1 -> { // swap neighbours
                for (int k = 0; k + 1 < words.size(); k += 3) {
                    String w = words.get(k);
                    words.set(k, words.get(k + 1));
                    words.set(k + 1, w);
                }
            }
            case 2 -> { // replace a few words
                for (int k = 1; k < words.size(); k += 5) {
                    words.set(k, "cosa");
                }
            }
            case 3 -> { // lowercase, punctuation lost
                return verse.toLowerCase().replaceAll("[.,;:]", "");
            }
            case 4 -> { // another verse altogether
                return all.get((i * 7 + 3) % all.size());
            }
            default -> { // the first half only
                return String.join(" ", words.subList(0, Math.max(1, words.size() / 2)));
            }
        }
        return String.join(" ", words);
    }

    private static boolean sacreBleuAvailable() {
        try {
            Process p = new ProcessBuilder("python3", "-c", "import sacrebleu").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    private static List<String> python(String script, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("python3", "-c", script));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(true, p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out.lines().toList();
    }
}

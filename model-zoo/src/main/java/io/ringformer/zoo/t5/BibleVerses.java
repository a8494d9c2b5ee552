package io.ringformer.zoo.t5;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * English–Spanish verse pairs from two SWORD Bible modules exported by {@code mod2imp} (launch/fetch-data.sh writes
 * data/bible/kjv.imp from engKJV2006eb, the King James Version, and data/bible/sparv.imp from spaRV1909eb, the
 * Reina-Valera 1909). Both modules use the KJV versification, so a verse's (book, chapter, verse) names the same
 * passage in each.
 *
 * <p><b>The .imp format.</b> An entry is a header line {@code $$$Book chapter:verse} (the book by its English SWORD
 * name, e.g. {@code I Corinthians}) and the lines after it up to the next header: the verse's raw OSIS text. Entries
 * whose header is not of that form ({@code $$$[ Module Heading ]}) and entries of verse 0 (a book's or chapter's
 * introduction: titles, milestones) are not verses and are skipped.
 *
 * <p><b>Plain text</b> ({@link #plainText}), in this order:
 * <ol>
 *   <li>{@code <note>…</note>} goes with all it holds: translators' footnotes and their references
 *       ({@code 1.4 the light from…: Heb. between…}) are commentary, not the verse;</li>
 *   <li>a space is put between an element that ends a word ({@code </w>}, {@code </transChange>}) and one that
 *       starts the next ({@code <w}, {@code <transChange}) when nothing separates them: the Reina-Valera module
 *       writes {@code …allí</w><transChange type="added">también</transChange><w …>bdelio</w>}, which is three
 *       words;</li>
 *   <li>every other tag is dropped and its content kept: {@code <w lemma="strong:H7225">beginning</w>} becomes
 *       {@code beginning} (the Strong's numbers and morphology live in attributes), KJV's italics for added words
 *       ({@code <transChange type="added">}), the words of Christ ({@code <q who="Jesus">}), the divine name, poetry
 *       lines, and titles inside a verse — a psalm's superscription and an epistle's closing subscription — are
 *       kept as words, because the Reina-Valera module has those titles in its verse text too;</li>
 *   <li>KJV's paragraph marks {@code ¶} and leftover USFM character markers ({@code \nd }) are dropped;</li>
 *   <li>the five XML entities are decoded, whitespace runs become one space, ends are trimmed.</li>
 * </ol>
 * Letters, case and punctuation are the modules' own: the Reina-Valera module writes a chapter's first word in
 * capitals ({@code EN el principio}), a printer's convention kept as it is.
 *
 * <p><b>Alignment</b> ({@link #align}). Both modules are fitted to the KJV versification, but the Reina-Valera's own
 * numbering differs in places and its module squeezes it in: Jonah 1:17 is its 2:1, so its Jonah 2:1–10 each hold the
 * English verse before; in 1 Chronicles 21 it splits a verse at 15 and is one verse behind up to 29, where it
 * merges two; 18 English verses have no Spanish entry at all. Matching keys alone would pair a few hundred verses
 * with their neighbours' translations. So, book by book (a verse may move across a chapter's end), the verses of both translations are aligned by their
 * lengths in characters, as Gale and Church (1993, "A program for aligning sentences in bilingual corpora") align
 * sentences: a dynamic program over beads of 1–1, 1–0, 0–1, 2–1 and 1–2 verses, each costing −log of its prior
 * (0.89, 0.0099, 0.0099, 0.089, 0.089 as theirs) times the probability of its length difference
 * δ = (l_es − c·l_en) / √(l_en·s²) under a standard normal (two-sided), with c and s² measured on all verses of the
 * two exports that share a key. A verse becomes a pair when the cheapest alignment of its book makes it a 1–1 bead
 * of the English and the Spanish verse of the same key; everything else (merged, split, shifted or missing verses)
 * is left out. Pairs come in the English module's order (canonical order, Genesis 1:1 first).
 */
public final class BibleVerses {

    /** A verse's place: the book by its English SWORD name, its chapter and its verse, both from 1. */
    public record Key(String book, int chapter, int verse) {
        @Override
        public String toString() {
            return book + " " + chapter + ":" + verse;
        }
    }

    /** One verse in both languages. */
    public record Pair(Key key, String english, String spanish) {}

    /** The English export, relative to the project's root. */
    public static final Path KJV_FILE = Path.of("data/bible/kjv.imp");
    /** The Spanish export, relative to the project's root. */
    public static final Path SPARV_FILE = Path.of("data/bible/sparv.imp");

    private static final Pattern HEADER = Pattern.compile("^\\$\\$\\$(.+) (\\d+):(\\d+)$");
    private static final Pattern NOTE = Pattern.compile("(?s)<note\\b.*?</note>");
    private static final Pattern ABUTTING_WORDS = Pattern.compile("</(w|transChange)>(?=<(w|transChange)\\b)");
    private static final Pattern TAG = Pattern.compile("<[^>]*>");
    private static final Pattern USFM_MARKER = Pattern.compile("\\\\[a-z]+[0-9]*\\*? ?");
    private static final Pattern WHITESPACE = Pattern.compile("\\s+");

    private BibleVerses() {}

    /**
     * The verses of an .imp export as plain text, in the file's order; verse 0 entries, headings and verses whose
     * text is empty are left out.
     *
     * @throws IllegalArgumentException when a (book, chapter, verse) comes twice
     */
    public static Map<Key, String> parse(String imp) {
        Map<Key, String> verses = new LinkedHashMap<>();
        Key key = null;
        StringBuilder text = new StringBuilder();
        for (String line : imp.split("\n", -1)) {
            if (line.startsWith("$$$")) {
                put(verses, key, text);
                Matcher header = HEADER.matcher(line.strip());
                key = header.matches() && Integer.parseInt(header.group(3)) > 0
                        ? new Key(header.group(1), Integer.parseInt(header.group(2)), Integer.parseInt(header.group(3)))
                        : null;
                text.setLength(0);
            } else if (key != null) {
                text.append(line).append('\n');
            }
        }
        put(verses, key, text);
        return verses;
    }

    private static void put(Map<Key, String> verses, Key key, StringBuilder osis) {
        if (key == null) {
            return;
        }
        String plain = plainText(osis.toString());
        if (!plain.isEmpty() && verses.put(key, plain) != null) {
            throw new IllegalArgumentException("the export has " + key + " twice");
        }
    }

    /** A verse's OSIS text as plain words (the rules of the class comment). */
    public static String plainText(String osis) {
        String text = NOTE.matcher(osis).replaceAll(" ");
        text = ABUTTING_WORDS.matcher(text).replaceAll("</$1> ");
        text = TAG.matcher(text).replaceAll("");
        text = USFM_MARKER.matcher(text).replaceAll("").replace('¶', ' ');
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'")
                .replace("&amp;", "&");
        return WHITESPACE.matcher(text).replaceAll(" ").strip();
    }

    /**
     * The verses whose English and Spanish texts align one to one under their key (see the class comment), in
     * {@code english}'s order.
     */
    public static List<Pair> align(Map<Key, String> english, Map<Key, String> spanish) {
        LengthModel model = LengthModel.of(english, spanish);
        Map<String, List<Key>> englishBooks = books(english);
        Map<String, List<Key>> spanishBooks = books(spanish);
        List<Pair> pairs = new ArrayList<>();
        englishBooks.forEach((book, englishKeys) -> {
            List<Key> spanishKeys = spanishBooks.getOrDefault(book, List.of());
            for (Key key : model.oneToOne(englishKeys, spanishKeys, english, spanish)) {
                pairs.add(new Pair(key, english.get(key), spanish.get(key)));
            }
        });
        return pairs;
    }

    /** The keys of each book, in the file's order; books in the file's order. */
    private static Map<String, List<Key>> books(Map<Key, String> verses) {
        Map<String, List<Key>> books = new LinkedHashMap<>();
        for (Key key : verses.keySet()) {
            books.computeIfAbsent(key.book(), b -> new ArrayList<>()).add(key);
        }
        return books;
    }

    /** Gale and Church's length-based alignment of the verses of one book (see the class comment). */
    private record LengthModel(double ratio, double variance) {

        // Beads: (English verses, Spanish verses, prior probability), Gale and Church's table 5.
        private static final int[][] BEADS = {{1, 1}, {1, 0}, {0, 1}, {2, 1}, {1, 2}};
        private static final double[] PRIORS = {0.89, 0.0099, 0.0099, 0.089, 0.089};
        /** How far, in verses, an alignment may run ahead in one translation. */
        private static final int BAND = 64;

        /** c = Σ l_es / Σ l_en and s² = the variance of (l_es − c·l_en) / √l_en, over the verses of equal keys. */
        static LengthModel of(Map<Key, String> english, Map<Key, String> spanish) {
            double englishChars = 0;
            double spanishChars = 0;
            for (Map.Entry<Key, String> verse : english.entrySet()) {
                String other = spanish.get(verse.getKey());
                if (other != null) {
                    englishChars += verse.getValue().length();
                    spanishChars += other.length();
                }
            }
            if (englishChars == 0) {
                throw new IllegalArgumentException("the two exports share no verse");
            }
            double ratio = spanishChars / englishChars;
            double sum = 0;
            double squares = 0;
            int count = 0;
            for (Map.Entry<Key, String> verse : english.entrySet()) {
                String other = spanish.get(verse.getKey());
                if (other != null) {
                    int length = verse.getValue().length();
                    double z = (other.length() - ratio * length) / Math.sqrt(length);
                    sum += z;
                    squares += z * z;
                    count++;
                }
            }
            double mean = sum / count;
            return new LengthModel(ratio, Math.max(squares / count - mean * mean, 1e-6));
        }

        /** The keys the cheapest alignment of one book makes 1–1 beads of the same key. */
        List<Key> oneToOne(List<Key> englishKeys, List<Key> spanishKeys, Map<Key, String> english,
                           Map<Key, String> spanish) {
            int n = englishKeys.size();
            int m = spanishKeys.size();
            if (Math.abs(n - m) >= BAND) {
                throw new IllegalArgumentException(englishKeys.get(0).book() + " has " + n + " English and " + m
                        + " Spanish verses: too far apart for one versification");
            }
            // cost[i][j − i + BAND]: the cheapest alignment of the first i English and j Spanish verses, for the j
            // within BAND of i (the modules share a versification, so an alignment never strays far from it).
            double[][] cost = new double[n + 1][2 * BAND + 1];
            int[][] bead = new int[n + 1][2 * BAND + 1];   // the last bead of that alignment
            for (double[] row : cost) {
                Arrays.fill(row, Double.POSITIVE_INFINITY);
            }
            cost[0][BAND] = 0;
            for (int i = 0; i <= n; i++) {
                for (int j = Math.max(0, i - BAND); j <= Math.min(m, i + BAND); j++) {
                    for (int b = 0; b < BEADS.length && (i > 0 || j > 0); b++) {
                        int di = BEADS[b][0];
                        int dj = BEADS[b][1];
                        int before = j - dj - (i - di) + BAND;
                        if (i < di || j < dj || before < 0 || before > 2 * BAND
                                || cost[i - di][before] == Double.POSITIVE_INFINITY) {
                            continue;
                        }
                        int englishLength = 0;
                        for (int k = i - di; k < i; k++) {
                            englishLength += english.get(englishKeys.get(k)).length();
                        }
                        int spanishLength = 0;
                        for (int k = j - dj; k < j; k++) {
                            spanishLength += spanish.get(spanishKeys.get(k)).length();
                        }
                        double c = cost[i - di][before] + beadCost(b, englishLength, spanishLength);
                        if (c < cost[i][j - i + BAND]) {
                            cost[i][j - i + BAND] = c;
                            bead[i][j - i + BAND] = b;
                        }
                    }
                }
            }
            List<Key> kept = new ArrayList<>();
            for (int i = n, j = m; i > 0 || j > 0; ) {
                int b = bead[i][j - i + BAND];
                if (b == 0 && englishKeys.get(i - 1).equals(spanishKeys.get(j - 1))) {
                    kept.add(englishKeys.get(i - 1));
                }
                i -= BEADS[b][0];
                j -= BEADS[b][1];
            }
            Collections.reverse(kept);
            return kept;
        }

        /** −log(prior · P(|δ| at least this large)) for a bead of these lengths. */
        private double beadCost(int bead, int englishLength, int spanishLength) {
            double delta = englishLength == 0 && spanishLength == 0 ? 0
                    : (spanishLength - ratio * englishLength)
                            / Math.sqrt(Math.max(englishLength, 1) * variance);
            double tail = Math.max(erfc(Math.abs(delta) / Math.sqrt(2)), 1e-300);  // 2·(1 − Φ(|δ|))
            return -Math.log(PRIORS[bead]) - Math.log(tail);
        }

        /** The complementary error function (Numerical Recipes' erfcc, relative error below 1.2e-7). */
        private static double erfc(double x) {
            double z = Math.abs(x);
            double t = 1 / (1 + z / 2);
            double r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                    + t * (-0.18628288 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                    + t * (-0.82215223 + t * 0.17087277)))))))));
            return x >= 0 ? r : 2 - r;
        }
    }

    /** The aligned verses of two exports. */
    public static List<Pair> read(Path kjv, Path sparv) {
        return align(parse(readFile(kjv)), parse(readFile(sparv)));
    }

    /**
     * The aligned verses of data/bible/ under {@code root}, the project's root.
     *
     * @throws IllegalArgumentException naming the fix when an export is missing
     */
    public static List<Pair> read(Path root) {
        Path kjv = root.resolve(KJV_FILE);
        Path sparv = root.resolve(SPARV_FILE);
        for (Path file : List.of(kjv, sparv)) {
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException(file + " is missing: run launch/fetch-data.sh (it installs the "
                        + "SWORD modules and exports them with mod2imp)");
            }
        }
        return read(kjv, sparv);
    }

    private static String readFile(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

package io.ringformer.zoo.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.ringformer.zoo.text.SentencePieceTokenizer.Kind;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Trains both kinds on the first 90% of Moby Dick plus Genesis 1–2 in Spanish (Reina-Valera 1909, a test resource),
 * and holds out the rest of Moby Dick. Hugging Face {@code tokenizers} (the Rust library through DJL, loading only
 * the local {@code tokenizer.json}, offline) is the reference: it must give the same ids, with and without
 * {@code </s>}, and decode to the same text.
 */
class SentencePieceTokenizerTest {

    private static final int VOCAB = 3000;
    private static final int SENTINELS = 100;

    @TempDir
    static Path dir;
    static final Map<Kind, SentencePieceTokenizer> tokenizers = new EnumMap<>(Kind.class);
    static final Map<Kind, Path> saved = new EnumMap<>(Kind.class);
    static UnigramTrainer unigramTrainer;
    static List<String> heldOut;         // paragraphs of the last 10% of Moby Dick
    static List<String> spanish;         // the verses, each "C:V text"

    /** Real sentences and the hard cases: accents, punctuation, verse numbers, unseen characters, whitespace. */
    static final List<String> CASES = List.of("", "   ", "Call me Ishmael.", "  Call\tme \n\n Ishmael!!  ",
            "1:1 EN el principio crió Dios los cielos y la tierra.",
            "Y dijo Dios: Sea la luz: y fué la luz. ¿Qué? ¡Sí! «comillas» — “curvas” ‘simples’ …",
            "naïve café, Ahab's niño, ESPAÑOL, acción, pingüino, Ærø",
            "e\u0301 (decomposed) vs é, ﬁne ligature, fullwidth ＡＢＣ１２３, ½ and ²",
            "the whale ☃ snowman, a ŋ never seen, 鲸鱼 and 🐋 emoji, ☃☃ twice",
            "whale\u00A0boat\u2003sea\u3000ship\u2028line", "$100 + 5% = <tag> ^_^ `x` | ~a~ {b} [c] #7 @ahab",
            "Genesis 2:3 y 10:15; vv. 1-3, 1.000,50 and 3.14 or 1,000", "▁already ▁▁metaspace▁",
            "<extra_id_0> whale <extra_id_1>", "Hello <extra_id_99>world<pad></s><unk> <extra_id_100> <extra_id_07>",
            "x".repeat(200), "supercalifragilisticexpialidocious" + "ness".repeat(20));

    @BeforeAll
    static void train() throws IOException {
        String text = Files.readString(WordPieceTokenizerTest.mobyDick());
        int cut = text.lastIndexOf('\n', text.length() * 9 / 10) + 1;
        heldOut = Arrays.stream(text.substring(cut).split("\n\\s*\n")).filter(p -> !p.isBlank()).toList();
        spanish = genesis();
        List<String> corpus = List.of(text.substring(0, cut), String.join("\n", spanish));
        for (Kind kind : Kind.values()) {
            long start = System.nanoTime();
            SentencePieceTokenizer tokenizer;
            if (kind == Kind.UNIGRAM) {
                unigramTrainer = new UnigramTrainer(SentencePieceTokenizer.countWords(corpus),
                        VOCAB - 3 - SENTINELS).train();
                tokenizer = unigramTrainer.tokenizer(SENTINELS);
            } else {
                tokenizer = SentencePieceTokenizer.train(kind, corpus, VOCAB, SENTINELS);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            tokenizers.put(kind, tokenizer);
            Path file = dir.resolve(kind + ".json");
            tokenizer.save(file);
            saved.put(kind, file);
            String held = text.substring(cut);
            int words = SentencePieceTokenizer.words(held).size();
            int tokens = tokenizer.encode(held).length;
            System.out.printf("%s on 90%% of Moby Dick + Genesis 1-2: vocab %d in %.2f s; held-out %d words, "
                    + "%d tokens (%.3f per word)%n", kind, tokenizer.vocabSize(), seconds, words, tokens,
                    (double) tokens / words);
        }
    }

    /** Genesis 1–2, one verse a line as "C:V text" (so the text has verse numbers such as 1:1). */
    static List<String> genesis() throws IOException {
        try (InputStream in = SentencePieceTokenizerTest.class.getResourceAsStream(
                "genesis-1-2-reina-valera-1909.tsv")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines()
                    .filter(line -> !line.startsWith("#"))
                    .map(line -> line.substring("Genesis ".length()).replace('\t', ' '))
                    .toList();
        }
    }

    /** The reference, offline: no hub name, no download, no telemetry. */
    static HuggingFaceTokenizer huggingFace(Path tokenizerJson, boolean addSpecialTokens) throws IOException {
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("OPT_OUT_TRACKING", "true");
        System.setProperty("DJL_CACHE_DIR", Path.of("target/djl-cache").toAbsolutePath().toString());
        return HuggingFaceTokenizer.newInstance(tokenizerJson, Map.of("addSpecialTokens",
                String.valueOf(addSpecialTokens), "truncation", "false", "padding", "false"));
    }

    static int[] ids(HuggingFaceTokenizer reference, String text) {
        return Arrays.stream(reference.encode(text).getIds()).mapToInt(Math::toIntExact).toArray();
    }

    /** The texts compared with Hugging Face: the hard cases, every Spanish verse, and held-out paragraphs. */
    static List<String> texts() {
        List<String> texts = new ArrayList<>(CASES);
        texts.addAll(spanish);
        texts.addAll(heldOut);
        return texts;
    }

    @Test
    void encodesAsHuggingFaceDoesWithAndWithoutEos() throws IOException {
        for (Kind kind : Kind.values()) {
            SentencePieceTokenizer tokenizer = tokenizers.get(kind);
            try (HuggingFaceTokenizer plain = huggingFace(saved.get(kind), false);
                    HuggingFaceTokenizer withEos = huggingFace(saved.get(kind), true)) {
                int unknown = 0;
                for (String text : texts()) {
                    int[] ours = tokenizer.encode(text);
                    assertArrayEquals(ids(plain, text), ours, kind + ": " + text);
                    int[] oursWithEos = tokenizer.encode(text, true);
                    assertArrayEquals(ids(withEos, text), oursWithEos, kind + " with </s>: " + text);
                    assertEquals(ours.length + 1, oursWithEos.length);
                    assertEquals(SentencePieceTokenizer.EOS_ID, oursWithEos[ours.length]);
                    unknown += (int) Arrays.stream(ours).filter(id -> id == SentencePieceTokenizer.UNK_ID).count();
                }
                assertTrue(unknown >= 4, kind + ": the unseen characters should give <unk>s, got " + unknown);
            }
        }
    }

    @Test
    void decodesAsHuggingFaceDoesAndGivesTheNormalizedTextBack() throws IOException {
        for (Kind kind : Kind.values()) {
            SentencePieceTokenizer tokenizer = tokenizers.get(kind);
            try (HuggingFaceTokenizer reference = huggingFace(saved.get(kind), false)) {
                int roundTrips = 0;
                for (String text : texts()) {
                    int[] ids = tokenizer.encode(text);
                    long[] longIds = Arrays.stream(ids).filter(id -> id != SentencePieceTokenizer.PAD_ID
                            && id != SentencePieceTokenizer.EOS_ID).asLongStream().toArray(); // ours leaves them out
                    assertEquals(reference.decode(longIds, false), tokenizer.decode(ids), kind + ": " + text);
                    if (Arrays.stream(ids).noneMatch(id -> id == SentencePieceTokenizer.UNK_ID)
                            && !text.contains("<") && !text.contains("▁")) { // a ▁ in the text decodes as a space
                        assertEquals(SentencePieceTokenizer.normalize(text), tokenizer.decode(ids), kind + ": " + text);
                        roundTrips++;
                    }
                }
                assertTrue(roundTrips > 300, kind + ": " + roundTrips + " texts went round");
            }
            assertEquals("Call me Ishmael.", tokenizer.decode(tokenizer.encode("  Call  me\nIshmael. ", true)));
            int[] padded = Arrays.copyOf(tokenizer.encode("la luz", true), 8); // padding is id 0
            assertEquals("la luz", tokenizer.decode(padded));
        }
    }

    @Test
    void normalizationIsNfkcWithWhitespaceCollapsedAndNoLowercasing() {
        assertEquals("Call me Ishmael.", SentencePieceTokenizer.normalize("\u3000Call\t me\n\nIshmael.\u00A0 "));
        assertEquals("fine ABC12 1⁄2 é É", SentencePieceTokenizer.normalize("ﬁne ＡＢＣ１２ ½ e\u0301 É"));
        assertEquals(List.of("▁Y", "▁dijo", "▁Dios:"), SentencePieceTokenizer.words(" Y  dijo Dios: "));
        assertEquals(List.of(), SentencePieceTokenizer.words(" \n\t"));
    }

    @Test
    void bothKindsReachTheVocabularySizeAskedWithT5sLayout() {
        for (SentencePieceTokenizer tokenizer : tokenizers.values()) {
            assertEquals(VOCAB, tokenizer.vocabSize(), tokenizer.toString());
            assertEquals(VOCAB, tokenizer.outputSize());
            assertEquals("tokenizer.json", tokenizer.fileName());
            assertEquals("<pad>", tokenizer.token(SentencePieceTokenizer.PAD_ID));
            assertEquals("</s>", tokenizer.token(SentencePieceTokenizer.EOS_ID));
            assertEquals("<unk>", tokenizer.token(SentencePieceTokenizer.UNK_ID));
            Set<String> distinct = new HashSet<>();
            for (int id = 0; id < tokenizer.vocabSize(); id++) {
                assertTrue(distinct.add(tokenizer.token(id)), tokenizer.token(id));
                assertEquals(id, tokenizer.id(tokenizer.token(id)));
            }
            assertEquals(-1, tokenizer.id("not-a-piece"));
            for (String frequent : List.of("▁the", "▁and", "▁whale", "▁Dios")) {
                assertTrue(tokenizer.id(frequent) > 2, tokenizer.kind() + " lacks " + frequent);
            }
        }
    }

    @Test
    void sentinelsAreTheLastIdsDistinctAndNeverProducedByOrdinaryText() {
        for (SentencePieceTokenizer tokenizer : tokenizers.values()) {
            assertEquals(SENTINELS, tokenizer.sentinelCount());
            assertEquals(VOCAB - 1, tokenizer.sentinel(0));
            assertEquals(VOCAB - SENTINELS, tokenizer.sentinel(SENTINELS - 1));
            Set<Integer> ids = new HashSet<>();
            for (int i = 0; i < SENTINELS; i++) {
                int id = tokenizer.sentinel(i);
                assertTrue(ids.add(id));
                assertEquals("<extra_id_" + i + ">", tokenizer.token(id));
                assertTrue(tokenizer.isSentinel(id));
            }
            assertFalse(tokenizer.isSentinel(VOCAB - SENTINELS - 1));
            assertThrows(IllegalArgumentException.class, () -> tokenizer.sentinel(SENTINELS));
            assertThrows(IllegalArgumentException.class, () -> tokenizer.sentinel(-1));
            List<String> ordinary = new ArrayList<>(spanish);
            ordinary.addAll(heldOut);
            for (String text : ordinary) {
                for (int id : tokenizer.encode(text)) {
                    assertTrue(id > SentencePieceTokenizer.EOS_ID && !tokenizer.isSentinel(id), text);
                }
            }
            // T5's span corruption input, built from ids, decodes with the sentinels in place.
            int[] corrupted = concat(tokenizer.encode("Call me"), new int[] {tokenizer.sentinel(0)},
                    tokenizer.encode("Some years ago"), new int[] {SentencePieceTokenizer.EOS_ID});
            assertEquals("Call me<extra_id_0> Some years ago", tokenizer.decode(corrupted));
            assertArrayEquals(new int[] {tokenizer.sentinel(0), tokenizer.sentinel(17)},
                    tokenizer.encode("<extra_id_0><extra_id_17>"));
        }
    }

    @Test
    void unigramLossGoesDownOverEachRoundOfEm() {
        List<UnigramTrainer.EmStep> history = unigramTrainer.history();
        assertTrue(history.size() >= 4, history.toString());
        int rounds = history.get(history.size() - 1).round() + 1;
        assertTrue(rounds >= 3, "pruning rounds: " + rounds);
        for (int i = 1; i < history.size(); i++) {
            UnigramTrainer.EmStep before = history.get(i - 1);
            UnigramTrainer.EmStep after = history.get(i);
            if (before.round() == after.round()) {
                assertTrue(after.loss() <= before.loss() + 1e-9, before + " → " + after);
            } else {
                assertTrue(after.pieces() < before.pieces(), "pruning shrinks the vocabulary: " + before + " → "
                        + after);
            }
        }
        UnigramTrainer.EmStep first = history.get(0);
        UnigramTrainer.EmStep second = history.get(1);
        assertTrue(first.loss() - second.loss() > 0.1, "the seed's first EM step should gain: " + first + " → "
                + second);
        assertEquals(VOCAB - 3 - SENTINELS, history.get(history.size() - 1).pieces());
    }

    @Test
    void aSavedTokenizerLoadsBackEqual() throws IOException {
        for (Kind kind : Kind.values()) {
            SentencePieceTokenizer loaded = SentencePieceTokenizer.load(saved.get(kind));
            assertEquals(tokenizers.get(kind), loaded);
            assertEquals(kind, loaded.kind());
            assertEquals(SENTINELS, loaded.sentinelCount());
            for (String text : spanish) {
                assertArrayEquals(tokenizers.get(kind).encode(text), loaded.encode(text));
            }
            Path again = dir.resolve(kind + "-again.json");
            loaded.save(again);
            assertEquals(Files.readString(saved.get(kind)), Files.readString(again));
        }
    }

    @Test
    void bpeMergesTheMostFrequentPairFirst() {
        // ▁hug×10 ▁pug×5 ▁pun×12 ▁bun×4 ▁hugs×5. The alphabet by code point: b g h n p s u ▁. Pair counts:
        // ▁h 15, hu 15, ug 10+5+5 = 20, gs 5, ▁p 5+12 = 17, pu 17, un 12+4 = 16, ▁b 4, bu 4: ug goes first.
        // Then ▁p 17, pu 12 (▁pug's pu became p·ug), un 16, ▁h 15: ▁p goes second. 3 + 8 + 2 = 13 tokens.
        String text = "hug ".repeat(10) + "pug ".repeat(5) + "pun ".repeat(12) + "bun ".repeat(4) + "hugs ".repeat(5);
        SentencePieceTokenizer small = SentencePieceTokenizer.train(Kind.BPE, List.of(text), 3 + 8 + 2, 0);
        assertEquals(List.of("b", "g", "h", "n", "p", "s", "u", "▁", "ug", "▁p"),
                Arrays.stream(vocabulary(small)).skip(3).toList());
        assertEquals(List.of("u g", "▁ p"), small.merges().stream().map(m -> m[0] + " " + m[1]).toList());
        assertEquals(small, SentencePieceTokenizer.train(Kind.BPE, List.of(text), 13, 0), "deterministic");
    }

    @Test
    void unigramSegmentsByViterbiOverItsScores() {
        SentencePieceTokenizer unigram = tokenizers.get(Kind.UNIGRAM);
        int[] ids = unigram.encode("whale");
        assertEquals(1, ids.length, "▁whale is frequent enough to be one piece: " + unigram.decode(ids));
        // The best path scores at least as high as the one-character path.
        int[] pieces = unigram.encode("Ishmael");
        double best = Arrays.stream(pieces).mapToDouble(unigram::score).sum();
        double characters = unigram.score(unigram.id("▁"));
        for (char c : "Ishmael".toCharArray()) {
            characters += unigram.score(unigram.id(String.valueOf(c)));
        }
        assertTrue(best >= characters, best + " < " + characters);
        assertTrue(unigram.score(unigram.id("▁the")) > unigram.score(unigram.id("▁whale")));
    }

    @Test
    void badSizesKindsAndFilesAreClearErrors() throws IOException {
        var small = assertThrows(IllegalArgumentException.class,
                () -> SentencePieceTokenizer.train(Kind.UNIGRAM, List.of("abc abd"), 10, 100));
        assertTrue(small.getMessage().contains("at least 108"), small.getMessage()); // 3 + 100 + a b c d ▁
        assertThrows(IllegalArgumentException.class,
                () -> SentencePieceTokenizer.train(Kind.BPE, List.of(" \n "), 500, 0));
        var kind = assertThrows(IllegalArgumentException.class, () -> Kind.parse("wordpiece"));
        assertTrue(kind.getMessage().contains("unigram and bpe"), kind.getMessage());
        assertEquals(Kind.BPE, Kind.parse("BPE"));
        String good = Files.readString(saved.get(Kind.UNIGRAM));
        assertLoadFails(good.replace("\"prepend_scheme\" : \"always\"", "\"prepend_scheme\" : \"first\""),
                "pre_tokenizer");
        assertLoadFails(good.replace("\"type\" : \"Unigram\"", "\"type\" : \"WordPiece\""), "model.type");
        assertLoadFails(good.replace("\"<pad>\", 0.0", "\"<PAD>\", 0.0"), "id 0 must be <pad>");
        assertLoadFails("{\"version\": ", "not valid JSON");
    }

    private static void assertLoadFails(String content, String expected) throws IOException {
        Path file = Files.writeString(dir.resolve("bad.json"), content);
        var e = assertThrows(IllegalArgumentException.class, () -> SentencePieceTokenizer.load(file));
        assertTrue(e.getMessage().startsWith(file.toString()) && e.getMessage().contains(expected), e.getMessage());
    }

    private static String[] vocabulary(SentencePieceTokenizer tokenizer) {
        String[] tokens = new String[tokenizer.vocabSize()];
        Arrays.setAll(tokens, tokenizer::token);
        return tokens;
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }
}

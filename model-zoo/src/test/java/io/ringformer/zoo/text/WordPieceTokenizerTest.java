package io.ringformer.zoo.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Trains on the first 90% of Moby Dick and holds out the rest. Hugging Face {@code tokenizers} (the Rust library,
 * through DJL's JNI binding, loading only the local {@code tokenizer.json}, offline) is the reference: it must give
 * the same ids for all of the held-out text.
 */
class WordPieceTokenizerTest {

    private static final int VOCAB = 4000;

    @TempDir
    static Path dir;
    static WordPieceTokenizer tokenizer;
    static Path saved;
    static List<String> heldOut;        // paragraphs of the last 10%

    @BeforeAll
    static void trainOnMobyDick() throws IOException {
        String text = Files.readString(mobyDick());
        int cut = text.lastIndexOf('\n', text.length() * 9 / 10) + 1;
        long start = System.nanoTime();
        tokenizer = WordPieceTokenizer.train(text.substring(0, cut), VOCAB);
        double seconds = (System.nanoTime() - start) / 1e9;
        saved = dir.resolve("tokenizer.json");
        tokenizer.save(saved);
        heldOut = Arrays.stream(text.substring(cut).split("\n\\s*\n")).filter(p -> !p.isBlank()).toList();
        String held = text.substring(cut);
        int[] ids = tokenizer.encode(held);
        int words = WordPieceTokenizer.words(held).size();
        long unknown = Arrays.stream(ids).filter(id -> id == WordPieceTokenizer.UNK_ID).count();
        System.out.printf("WordPiece on Moby Dick: trained on %d chars in %.2f s, vocab %d; held-out %d chars: "
                        + "%d words, %d tokens (%.3f per word), %d [UNK]%n", cut, seconds, tokenizer.vocabSize(),
                held.length(), words, ids.length, (double) ids.length / words, unknown);
        assertTrue(seconds < 20, "training took " + seconds + " s; it should take a few");
    }

    static Path mobyDick() {
        for (Path candidate : new Path[] {Path.of("data/moby-dick.txt"), Path.of("../data/moby-dick.txt")}) {
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        return fail("data/moby-dick.txt is missing: run launch/fetch-data.sh first");
    }

    /** The reference, offline: no hub name, no download, no telemetry. */
    static HuggingFaceTokenizer huggingFace(Path tokenizerJson) throws IOException {
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("OPT_OUT_TRACKING", "true");
        System.setProperty("DJL_CACHE_DIR", Path.of("target/djl-cache").toAbsolutePath().toString());
        return HuggingFaceTokenizer.newInstance(tokenizerJson,
                Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
    }

    static int[] ids(HuggingFaceTokenizer reference, String text) {
        return Arrays.stream(reference.encode(text).getIds()).mapToInt(Math::toIntExact).toArray();
    }

    @Test
    void trainsTheVocabularySizeAskedWithTheSpecialTokensFirst() {
        assertEquals(VOCAB, tokenizer.vocabSize());
        assertEquals(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"), WordPieceTokenizer.SPECIAL_TOKENS);
        for (int id = 0; id < 5; id++) {
            assertEquals(id, tokenizer.id(WordPieceTokenizer.SPECIAL_TOKENS.get(id)));
        }
        assertEquals(0, WordPieceTokenizer.PAD_ID);
        assertEquals(1, WordPieceTokenizer.UNK_ID);
        assertEquals(2, WordPieceTokenizer.CLS_ID);
        assertEquals(3, WordPieceTokenizer.SEP_ID);
        assertEquals(4, WordPieceTokenizer.MASK_ID);
        var distinct = new HashSet<String>();
        for (int id = 0; id < tokenizer.vocabSize(); id++) {
            assertTrue(distinct.add(tokenizer.token(id)), tokenizer.token(id));
            assertEquals(id, tokenizer.id(tokenizer.token(id)));
        }
        assertEquals(-1, tokenizer.id("not-a-token"));
    }

    @Test
    void encodesTheHeldOutTextAsHuggingFaceDoes() throws IOException {
        try (HuggingFaceTokenizer reference = huggingFace(saved)) {
            int tokens = 0;
            for (String paragraph : heldOut) {
                int[] ours = tokenizer.encode(paragraph);
                assertArrayEquals(ids(reference, paragraph), ours, paragraph);
                tokens += ours.length;
            }
            assertTrue(tokens > 30_000, tokens + " tokens");
        }
    }

    @Test
    void encodesHardCasesAsHuggingFaceDoes() throws IOException {
        List<String> cases = List.of("", "   ", "Call me Ishmael.", "CALL\tme\r\nISHMAEL!!", "naïve café, Ahab's",
                "Ærø, straße, İstanbul, ΟΔΟΣ", "whale\u00A0boat\u2003sea\u3000ship", "zero\u200Bwidth\u0007bell\u0000",
                "鲸鱼 whale 捕鲸船", "¿qué? «oui» — “quoted” ‘single’ …", "$100 + 5% = <tag> ^_^ `x` | ~a~ {b}",
                "x".repeat(100), "x".repeat(101), "whale" + "ing".repeat(40), "snow ☃ whale☃ 🐋 emoji",
                "[CLS] call me [MASK]. [SEP]", "[cls] [MASK][SEP]x[PAD]y [UNK] [MAS]", "e\u0301 vs é",
                "\uFFFDreplaced\uFEFFbom", "tab\u000Bvertical\u000Cfeed\u0085next");
        try (HuggingFaceTokenizer reference = huggingFace(saved)) {
            for (String text : cases) {
                assertArrayEquals(ids(reference, text), tokenizer.encode(text), text);
            }
        }
    }

    @Test
    void aSavedTokenizerLoadsBackEqual() throws IOException {
        WordPieceTokenizer loaded = WordPieceTokenizer.load(saved);
        assertEquals(tokenizer, loaded);
        for (String paragraph : heldOut.subList(0, 200)) {
            assertArrayEquals(tokenizer.encode(paragraph), loaded.encode(paragraph));
        }
        Path again = dir.resolve("again.json");
        loaded.save(again);
        assertEquals(Files.readString(saved), Files.readString(again));
    }

    @Test
    void decodeGivesBackTheLowercasedWords() {
        assertEquals("call me ishmael .", tokenizer.decode(tokenizer.encode("Call me Ishmael.")));
        for (String paragraph : heldOut) {
            int[] ids = tokenizer.encode(paragraph);
            if (Arrays.stream(ids).noneMatch(id -> id == WordPieceTokenizer.UNK_ID)) {
                assertEquals(String.join(" ", WordPieceTokenizer.words(paragraph)), tokenizer.decode(ids));
            }
        }
    }

    @Test
    void specialTokensInTheTextAreTheirIds() {
        int[] ids = tokenizer.encode("[CLS]the whale[SEP]");
        assertEquals(WordPieceTokenizer.CLS_ID, ids[0]);
        assertEquals(WordPieceTokenizer.SEP_ID, ids[ids.length - 1]);
        assertEquals("[CLS] the whale [SEP]", tokenizer.decode(ids));
    }

    @Test
    void anUnknownCharacterMakesItsWholeWordUnknown() {
        int unk = WordPieceTokenizer.UNK_ID;
        assertArrayEquals(new int[] {unk}, tokenizer.encode("☃"));
        assertArrayEquals(new int[] {unk}, tokenizer.encode("whale☃boat"));
        int[] the = tokenizer.encode("the");
        int[] whale = tokenizer.encode("whale");
        assertTrue(Arrays.stream(the).noneMatch(id -> id == unk) && Arrays.stream(whale).noneMatch(id -> id == unk));
        int[] expected = IntStream.concat(IntStream.concat(Arrays.stream(the), IntStream.of(unk)), Arrays.stream(whale))
                .toArray();
        assertArrayEquals(expected, tokenizer.encode("the ☃ whale"));
        assertArrayEquals(new int[] {unk}, tokenizer.encode("a".repeat(101)));
    }

    @Test
    void mergesTheMostFrequentPairFirst() {
        // hug×10 pug×5 pun×12 bun×4 hugs×5. The alphabet: b h p ##g ##n ##s ##u (ids 5–11). The most frequent pair
        // is ##u ##g (20), merged first; then ##u ##n (16). (The association score count(ab)/(count(a)·count(b))
        // would have picked ##g ##s, 5 / (20 · 5) = 0.05.)
        String text = "hug ".repeat(10) + "pug ".repeat(5) + "pun ".repeat(12) + "bun ".repeat(4) + "hugs ".repeat(5);
        WordPieceTokenizer small = WordPieceTokenizer.train(text, 14);
        List<String> vocab = new ArrayList<>();
        for (int id = 5; id < small.vocabSize(); id++) {
            vocab.add(small.token(id));
        }
        assertEquals(List.of("##g", "##n", "##s", "##u", "b", "h", "p", "##ug", "##un"), vocab);
        assertEquals(small, WordPieceTokenizer.train(text, 14), "training is deterministic");
    }

    @Test
    void frequentWordsBecomeSingleTokens() {
        for (String word : List.of("the", "and", "whale", "ahab")) {
            assertEquals(1, tokenizer.encode(word).length, word + " is " + tokenizer.decode(tokenizer.encode(word)));
        }
    }

    @Test
    void aVocabularyTooSmallForTheAlphabetOrAnEmptyTextIsRefused() {
        var small = assertThrows(IllegalArgumentException.class, () -> WordPieceTokenizer.train("abc abd", 8));
        assertTrue(small.getMessage().contains("at least 9"), small.getMessage());
        assertThrows(IllegalArgumentException.class, () -> WordPieceTokenizer.train(" \n ", 100));
    }

    @Test
    void aCorruptFileIsAClearIllegalArgumentException() throws IOException {
        String good = Files.readString(saved);
        assertLoadFails("{\"version\": \"1.0\", \"model\": {", "not valid JSON");
        assertLoadFails("[1, 2]", "expected a JSON object");
        assertLoadFails(good.replace("\"type\" : \"WordPiece\",\n    \"unk_token\"", "\"type\" : \"BPE\",\n    \"unk_token\""),
                "model.type is \"BPE\"");
        assertLoadFails(good.replace("\"lowercase\" : true", "\"lowercase\" : false"), "normalizer.lowercase");
        assertLoadFails(good.replace("\"[MASK]\" : 4", "\"[MASK]\" : 5"), "id 5 is given to both");
        assertLoadFails(good.replace("\"[MASK]\" : 4", "\"[MASK]\" : \"four\""), "the id of '[MASK]'");
        assertLoadFails(good.replace("\"pre_tokenizer\" : {", "\"pre_tokenizer_\" : {"), "pre_tokenizer: expected an object");
    }

    private static void assertLoadFails(String content, String expected) throws IOException {
        Path file = Files.writeString(dir.resolve("bad.json"), content);
        var e = assertThrows(IllegalArgumentException.class, () -> WordPieceTokenizer.load(file));
        assertTrue(e.getMessage().startsWith(file.toString()) && e.getMessage().contains(expected), e.getMessage());
    }
}

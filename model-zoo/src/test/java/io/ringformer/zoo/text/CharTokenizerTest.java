package io.ringformer.zoo.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CharTokenizerTest {

    /** The opening of Moby-Dick (public domain): newlines, em dashes and a curly apostrophe among ASCII. */
    static String mobyDick() throws IOException {
        try (InputStream in = CharTokenizerTest.class.getResourceAsStream("/io/ringformer/zoo/moby-dick-opening.txt")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @TempDir
    Path dir;

    @Test
    void vocabularyIsTheSortedDistinctCharactersAndIdsAreRanks() {
        CharTokenizer tokenizer = CharTokenizer.fit("hello");
        assertEquals("ehlo", tokenizer.vocabulary());
        assertEquals(4, tokenizer.vocabSize());
        assertArrayEquals(new int[] {1, 0, 2, 2, 3}, tokenizer.encode("hello"));
    }

    @Test
    void roundTripsRealTextWithNonAsciiCharacters() throws IOException {
        String text = mobyDick() + "\ncafé — naïve";
        CharTokenizer tokenizer = CharTokenizer.fit(text);
        assertEquals(text.codePoints().distinct().count(), tokenizer.vocabSize());

        int[] ids = tokenizer.encode(text);
        assertEquals(text.length(), ids.length); // all BMP: one id per char
        assertEquals(text, tokenizer.decode(ids));
        long dash = text.codePoints().filter(c -> c < '—').distinct().count(); // its rank among the characters
        assertEquals(dash, ids[text.indexOf('—')]);
        assertEquals('—', tokenizer.vocabulary().charAt((int) dash));
        assertEquals("café — naïve", tokenizer.decode(ids, ids.length - 12, ids.length));
    }

    @Test
    void aCharacterOutsideTheBmpIsOneToken() {
        String text = "a𝄞b"; // U+1D11E MUSICAL SYMBOL G CLEF is two Java chars
        CharTokenizer tokenizer = CharTokenizer.fit(text);
        assertEquals(3, tokenizer.vocabSize());
        assertArrayEquals(new int[] {0, 2, 1}, tokenizer.encode(text));
        assertEquals(text, tokenizer.decode(new int[] {0, 2, 1}));
    }

    @Test
    void unknownCharacterIsNamedWithItsCodePoint() {
        CharTokenizer tokenizer = CharTokenizer.fit("abc");
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> tokenizer.encode("abé"));
        assertTrue(error.getMessage().contains("'é' (U+00E9, code point 233)"), error.getMessage());
        assertTrue(error.getMessage().contains("char index 2"), error.getMessage());

        error = assertThrows(IllegalArgumentException.class, () -> tokenizer.encode("a\nb"));
        assertTrue(error.getMessage().contains("LINE FEED (LF) (U+000A, code point 10)"), error.getMessage());
    }

    @Test
    void idOutsideTheVocabularyIsRejectedOnDecode() {
        CharTokenizer tokenizer = CharTokenizer.fit("abc");
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> tokenizer.decode(new int[] {0, 3}));
        assertTrue(error.getMessage().contains("token id 3 at index 1"), error.getMessage());
        assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(new int[] {-1}));
    }

    @Test
    void emptyTextCannotBeFitted() {
        assertThrows(IllegalArgumentException.class, () -> CharTokenizer.fit(""));
    }

    @Test
    void saveAndLoadRoundTripExactly() throws IOException {
        String text = mobyDick() + "café — naïve 𝄞\t";
        CharTokenizer tokenizer = CharTokenizer.fit(text);
        Path file = dir.resolve("tokenizer.txt");
        tokenizer.save(file);

        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        assertEquals(CharTokenizer.FORMAT_HEADER, lines.get(0));
        assertEquals(tokenizer.vocabSize() + 1, lines.size());
        assertEquals("9", lines.get(1)); // the tab, lowest code point of the text

        CharTokenizer loaded = CharTokenizer.load(file);
        assertEquals(tokenizer, loaded);
        assertEquals(tokenizer.vocabulary(), loaded.vocabulary());
        assertArrayEquals(tokenizer.encode(text), loaded.encode(text));
        assertEquals(text, loaded.decode(tokenizer.encode(text)));
    }

    @Test
    void corruptFilesAreRejectedNamingTheFile() throws IOException {
        assertLoadFails("empty.txt", "", "empty file");
        assertLoadFails("other.txt", "{\"vocab\": []}\n", "not a character tokenizer file");
        assertLoadFails("v2.txt", "ringformer-char-tokenizer 2\n97\n", "unsupported version");
        assertLoadFails("no-vocab.txt", CharTokenizer.FORMAT_HEADER + "\n", "vocabulary is empty");
        assertLoadFails("letter.txt", CharTokenizer.FORMAT_HEADER + "\n97\nb\n", "line 3");
        assertLoadFails("too-big.txt", CharTokenizer.FORMAT_HEADER + "\n1114112\n", "line 2");
        assertLoadFails("unsorted.txt", CharTokenizer.FORMAT_HEADER + "\n98\n97\n", "strictly increasing");
        assertLoadFails("repeated.txt", CharTokenizer.FORMAT_HEADER + "\n97\n97\n", "strictly increasing");

        Path binary = dir.resolve("binary.bin");
        Files.write(binary, new byte[] {(byte) 0xff, (byte) 0xfe, 0x00});
        IOException error = assertThrows(IOException.class, () -> CharTokenizer.load(binary));
        assertTrue(error.getMessage().contains("binary.bin"), error.getMessage());
    }

    private void assertLoadFails(String name, String content, String expected) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, content, StandardCharsets.UTF_8);
        IOException error = assertThrows(IOException.class, () -> CharTokenizer.load(file));
        assertTrue(error.getMessage().contains(file.toString()), error.getMessage());
        assertTrue(error.getMessage().contains(expected), error.getMessage());
    }
}

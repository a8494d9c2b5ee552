package io.ringformer.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.text.SentencePieceTokenizer;
import io.ringformer.zoo.text.WordPieceTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerCommandTest {

    @Test
    void trainsAWordPieceTokenizerAndSavesIt(@TempDir Path dir) throws Exception {
        Path input = Files.writeString(dir.resolve("text.txt"), "Call me Ishmael. Some years ago, never mind how long"
                + " precisely, having little or no money in my purse, and nothing particular to interest me on shore.\n");
        Path out = dir.resolve("tokenizer.json");
        CommandLineTest.Result r = CommandLineTest.run("tokenizer", "train", "--kind", "wordpiece", "--vocab", "80",
                "--input", input.toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("vocabulary 80 tokens") && r.out().contains("tokens per word"), r.out());
        WordPieceTokenizer tokenizer = WordPieceTokenizer.load(out);
        assertEquals(80, tokenizer.vocabSize());
        assertEquals("call me ishmael .", tokenizer.decode(tokenizer.encode("Call me Ishmael.")));
    }

    @Test
    void trainsUnigramAndBpeOnSeveralFilesWithSentinels(@TempDir Path dir) throws Exception {
        Path english = Files.writeString(dir.resolve("en.txt"), "In the beginning God created the heaven and the "
                + "earth.\nAnd God said, Let there be light: and there was light.\n");
        Path spanish = Files.writeString(dir.resolve("es.txt"), "EN el principio crió Dios los cielos y la tierra.\n"
                + "Y dijo Dios: Sea la luz: y fué la luz.\n");
        for (String kind : new String[] {"unigram", "bpe"}) {
            Path out = dir.resolve(kind + ".json");
            CommandLineTest.Result r = CommandLineTest.run("tokenizer", "train", "--kind", kind, "--vocab", "90",
                    "--sentinels", "10", "--input", english.toString(), "--input", spanish.toString(), "--out",
                    out.toString());
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("vocabulary 90 tokens") && r.out().contains("tokens per word of "
                    + spanish), r.out());
            SentencePieceTokenizer tokenizer = SentencePieceTokenizer.load(out);
            assertEquals(90, tokenizer.vocabSize());
            assertEquals(10, tokenizer.sentinelCount());
            assertEquals(89, tokenizer.sentinel(0));
            assertEquals("Y dijo Dios: Sea la luz.", tokenizer.decode(tokenizer.encode("Y dijo Dios: Sea la luz.", true)));
        }
    }

    @Test
    void badInputIsOneLineAndExitTwo(@TempDir Path dir) throws Exception {
        Path input = Files.writeString(dir.resolve("text.txt"), "a few words\n");
        String out = dir.resolve("tokenizer.json").toString();
        assertOneLineError(CommandLineTest.run("tokenizer", "train", "--kind", "sentencepiece", "--vocab", "100",
                "--input", input.toString(), "--out", out), "the kinds are unigram, bpe and wordpiece");
        assertOneLineError(CommandLineTest.run("tokenizer", "train", "--kind", "unigram", "--vocab", "50", "--input",
                input.toString(), "--out", out), "need at least 112"); // 3 specials + 100 sentinels + 9 characters
        assertOneLineError(CommandLineTest.run("tokenizer", "train", "--vocab", "100", "--input",
                dir.resolve("absent.txt").toString(), "--out", out), "absent.txt: no such file");
        assertOneLineError(CommandLineTest.run("tokenizer", "train", "--vocab", "6", "--input", input.toString(),
                "--out", out), "too small");
        assertOneLineError(CommandLineTest.run("tokenizer", "train", "--vocab", "100", "--input", input.toString(),
                "--out", dir.resolve("no/such/folder/t.json").toString()), "does not exist");
        Path latin1 = Files.write(dir.resolve("latin1.txt"), new byte[] {'c', 'a', 'f', (byte) 0xE9});
        assertOneLineError(CommandLineTest.run("tokenizer", "train", "--vocab", "100", "--input", latin1.toString(),
                "--out", out), "not UTF-8");
        assertOneLineError(CommandLineTest.run("tokenizer", "train", "--vocab", "many", "--input", input.toString(),
                "--out", out), "--vocab");
        assertFalse(Files.exists(Path.of(out)));
    }

    private static void assertOneLineError(CommandLineTest.Result r, String expected) {
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains(expected), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }
}

package io.ringformer.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
    void badInputIsOneLineAndExitTwo(@TempDir Path dir) throws Exception {
        Path input = Files.writeString(dir.resolve("text.txt"), "a few words\n");
        String out = dir.resolve("tokenizer.json").toString();
        assertOneLineError(CommandLineTest.run("tokenizer", "train", "--kind", "bpe", "--vocab", "100", "--input",
                input.toString(), "--out", out), "--kind bpe is not supported");
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

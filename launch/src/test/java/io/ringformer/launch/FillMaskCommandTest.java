package io.ringformer.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ringformer fill-mask} on a BERT that configs/bert-mlm-tiny.yaml trained for a few steps. */
class FillMaskCommandTest {

    @Test
    void printsTheTopGuessesForEachMaskAndRefusesWhatItCannotFill(@TempDir Path dir) {
        Path run = dir.resolve("bert");
        CommandLineTest.Result trained = CommandLineTest.run("train", "--config", "../configs/bert-mlm-tiny.yaml",
                "--set", "data.path=../data/moby-dick.txt", "--set", "train.max_iters=4", "--set",
                "checkpoint.interval=4", "--set", "eval.interval=4", "--set", "eval.iters=1", "--out", run.toString());
        assertEquals(0, trained.code(), trained.err());

        CommandLineTest.Result one = CommandLineTest.run("fill-mask", "--checkpoint", run.toString(), "--text",
                "Call me [MASK].", "--top-k", "3");
        assertEquals(0, one.code(), one.err());
        List<String> lines = one.out().strip().lines().toList();
        assertEquals(3, lines.size(), one.out());
        double previous = 1;
        for (String line : lines) {
            String[] parts = line.trim().split("\\s+");
            assertEquals(2, parts.length, line);
            double probability = Double.parseDouble(parts[1]);
            assertTrue(probability > 0 && probability <= previous, one.out());
            previous = probability;
        }

        CommandLineTest.Result two = CommandLineTest.run("fill-mask", "--checkpoint", run.toString(), "--text",
                "The [MASK] whale [MASK].");
        assertEquals(0, two.code(), two.err());
        assertTrue(two.out().contains("[MASK] 1 of 2") && two.out().contains("[MASK] 2 of 2"), two.out());
        assertEquals(12, two.out().strip().lines().count(), two.out());

        assertOneLineError(CommandLineTest.run("fill-mask", "--checkpoint", run.toString(), "--text", "No mask."),
                "no [MASK]");
        assertOneLineError(CommandLineTest.run("fill-mask", "--checkpoint", run.toString(), "--text",
                "[MASK] " + "whale ".repeat(40)), "at most 30");
        assertOneLineError(CommandLineTest.run("fill-mask", "--checkpoint", dir.resolve("none").toString(),
                "--text", "[MASK]"), "none");
    }

    @Test
    void aGptCheckpointIsRefusedInOneLine(@TempDir Path dir) {
        Path run = dir.resolve("gpt");
        CommandLineTest.Result trained = CommandLineTest.run("train", "--config", "../configs/gpt-char-tiny.yaml",
                "--set", "data.path=../data/moby-dick.txt", "--set", "train.max_iters=2", "--set",
                "checkpoint.interval=2", "--set", "eval.interval=2", "--set", "eval.iters=1", "--sample", "0",
                "--out", run.toString());
        assertEquals(0, trained.code(), trained.err());
        assertOneLineError(CommandLineTest.run("fill-mask", "--checkpoint", run.toString(), "--text", "a [MASK]"),
                "needs a bert model");
    }

    private static void assertOneLineError(CommandLineTest.Result r, String expected) {
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains(expected), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }
}

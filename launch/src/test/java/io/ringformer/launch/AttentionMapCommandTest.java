package io.ringformer.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ringformer attention-map} on briefly trained checkpoints: the PNG's cells are read back, so a causal
 * sliding-window map must be white above the diagonal and outside its band and coloured inside it, and a BERT map
 * coloured on both sides of the diagonal.
 */
class AttentionMapCommandTest {

    static final String TEXT = "Call me Ishmael.";     // 16 characters

    static Path train(Path dir, String config, String... sets) {
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("train", "--config", config,
                "--set", "data.path=../data/moby-dick.txt", "--set", "train.max_iters=2", "--set",
                "checkpoint.interval=2", "--set", "eval.interval=2", "--set", "eval.iters=1", "--out",
                dir.toString()));
        for (String set : sets) {
            args.addAll(java.util.List.of("--set", set));
        }
        if (config.contains("gpt")) {
            args.addAll(java.util.List.of("--sample", "0"));
        }
        CommandLineTest.Result trained = CommandLineTest.run(args.toArray(String[]::new));
        assertEquals(0, trained.code(), trained.err());
        return dir;
    }

    static boolean white(BufferedImage image, AttentionMapPlot.Layout layout, int t, int s) {
        int x = layout.x(0) + s * layout.cell() + layout.cell() / 2;
        int y = layout.y(0) + t * layout.cell() + layout.cell() / 2;
        return (image.getRGB(x, y) & 0xFFFFFF) == 0xFFFFFF;
    }

    @Test
    void aSlidingWindowGptMapShowsItsCausalBand(@TempDir Path dir) throws Exception {
        Path run = train(dir.resolve("gpt"), "../configs/gpt-char-tiny.yaml", "attention.type=sliding_window",
                "attention.window=3");
        Path png = dir.resolve("map.png");
        CommandLineTest.Result drawn = CommandLineTest.run("attention-map", "--checkpoint", run.toString(), "--text",
                TEXT, "--head", "0", "--layer", "0", "--out", png.toString());
        assertEquals(0, drawn.code(), drawn.err());
        assertTrue(drawn.out().contains("16 tokens"), drawn.out());
        BufferedImage image = ImageIO.read(png.toFile());
        AttentionMapPlot.Layout layout = AttentionMapPlot.Layout.of(16, 1);
        for (int t = 0; t < 16; t++) {
            for (int s = 0; s < 16; s++) {
                boolean inBand = s <= t && t - s < 3;
                assertEquals(!inBand, white(image, layout, t, s), "cell (" + t + ", " + s + ")");
            }
        }
    }

    @Test
    void aBertMapIsBidirectionalAndBadRequestsGetOneLine(@TempDir Path dir) throws Exception {
        Path run = train(dir.resolve("bert"), "../configs/bert-mlm-tiny.yaml");
        Path png = dir.resolve("bert.png");
        CommandLineTest.Result drawn = CommandLineTest.run("attention-map", "--checkpoint", run.toString(), "--text",
                "call me ishmael", "--out", png.toString());
        assertEquals(0, drawn.code(), drawn.err());
        BufferedImage image = ImageIO.read(png.toFile());
        String tokens = drawn.out().replaceAll("(?s).* (\\d+) tokens.*", "$1");
        AttentionMapPlot.Layout layout = AttentionMapPlot.Layout.of(Integer.parseInt(tokens.strip()), 2);
        assertFalse(white(image, layout, 0, 2) || white(image, layout, 2, 0), "a bidirectional map has both sides");

        assertOneLineError(CommandLineTest.run("attention-map", "--checkpoint", run.toString(), "--text", "x",
                "--layer", "7", "--out", png.toString()), "layers 0 to 1");
        assertOneLineError(CommandLineTest.run("attention-map", "--checkpoint", run.toString(), "--text",
                "whale ".repeat(60), "--out", png.toString()), "reads 1 to 30");
    }

    private static void assertOneLineError(CommandLineTest.Result r, String expected) {
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains(expected), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }
}

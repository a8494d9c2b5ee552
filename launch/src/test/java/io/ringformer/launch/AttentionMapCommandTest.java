package io.ringformer.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import io.ringformer.zoo.vision.IdxReader;
import io.ringformer.zoo.vision.PngImages;
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
                "--set", "train.max_iters=2", "--set",
                "checkpoint.interval=2", "--set", "eval.interval=2", "--set", "eval.iters=1", "--out",
                dir.toString()));
        for (String set : sets) {
            args.addAll(java.util.List.of("--set", set));
        }
        if (config.contains("gpt")) {
            args.addAll(java.util.List.of("--sample", "0"));
        }
        if (!config.contains("vit")) {
            args.addAll(java.util.List.of("--set", "data.path=../data/moby-dick.txt"));
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
                "whale ".repeat(60), "--out", png.toString()), "at most 30");
    }

    @Test
    void aVitMapDrawsTheClsRowOnTheImageAndTheWrongInputIsRefused(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("vit");
        CommandLineTest.Result trained = CommandLineTest.run("train", "--config", "../configs/vit-mnist-tiny.yaml",
                "--set", "data.path=../data/mnist", "--set", "train.max_iters=2", "--set", "checkpoint.interval=2", "--set", "eval.interval=2",
                "--set", "eval.iters=1", "--out", run.toString());
        assertEquals(0, trained.code(), trained.err());
        IdxReader.Idx digits = IdxReader.readImages(Path.of("../data/mnist/digits-images-idx3-ubyte"));
        float[] digit = new float[28 * 28];
        for (int i = 0; i < digit.length; i++) {
            digit[i] = (digits.data()[i] & 0xFF) / 255f;
        }
        Path image = dir.resolve("digit.png");
        PngImages.write(image, digit, 28, 28);
        Path png = dir.resolve("vit.png");
        CommandLineTest.Result drawn = CommandLineTest.run("attention-map", "--checkpoint", run.toString(),
                "--image", image.toString(), "--out", png.toString());
        assertEquals(0, drawn.code(), drawn.err());
        assertTrue(drawn.out().contains("2 head(s), [CLS] over 16 patches"), drawn.out());
        BufferedImage map = ImageIO.read(png.toFile());
        assertTrue(map.getWidth() >= 2 * (28 * 10 + 20) + 10, "two panels of 280 px: " + map.getWidth());
        int reddest = 0;
        for (int x = 10; x < 10 + 280; x++) {
            int rgb = map.getRGB(x, 10 + 22 + 140);
            reddest = Math.max(reddest, ((rgb >> 16) & 0xFF) - (rgb & 0xFF));
        }
        assertTrue(reddest > 60, "no patch drawn red across the middle row: " + reddest);

        assertOneLineError(CommandLineTest.run("attention-map", "--checkpoint", run.toString(), "--text", "a",
                "--image", image.toString(), "--out", png.toString()), "give --text (gpt, bert) or --image (vit)");
        assertOneLineError(CommandLineTest.run("attention-map", "--checkpoint", run.toString(), "--text", "a",
                "--out", png.toString()), "reads text");
    }

    private static void assertOneLineError(CommandLineTest.Result r, String expected) {
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains(expected), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }
}

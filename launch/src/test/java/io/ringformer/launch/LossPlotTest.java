package io.ringformer.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** loss.png carries each family's metrics: the loss chart, then one 900 × 540 panel per metric, two to a row. */
class LossPlotTest {

    @Test
    void gptDrawsTheLossAlone(@TempDir Path dir) throws Exception {
        BufferedImage image = draw(dir, "");
        assertEquals(900, image.getWidth());
        assertEquals(540, image.getHeight());
    }

    @Test
    void vitAddsItsAccuracyBesideTheLoss(@TempDir Path dir) throws Exception {
        BufferedImage image = draw(dir, ",\"val_accuracy\":%s");
        assertEquals(1800, image.getWidth());
        assertEquals(540, image.getHeight());
    }

    @Test
    void bertDrawsFourPanelsInTwoRows(@TempDir Path dir) throws Exception {
        BufferedImage image = draw(dir, ",\"val_mlm_loss\":%1$s,\"val_mlm_accuracy\":%1$s,\"val_nsp_accuracy\":%1$s");
        assertEquals(1800, image.getWidth());
        assertEquals(1080, image.getHeight());
    }

    /** `ringformer metrics plot`: loss, gradient norm and throughput, three panels in two rows, the fourth cell white. */
    @Test
    void metricsPlotAddsGradientNormAndThroughputPanels(@TempDir Path dir) throws Exception {
        StringBuilder lines = new StringBuilder();
        for (int step = 10; step <= 200; step += 10) {
            lines.append(String.format("{\"step\":%d,\"loss\":%s,\"grad_norm\":%s,\"tokens_per_s\":%d}%n", step,
                    3.0 - step / 100.0, 1.0 / step, 1000 + step));
        }
        Files.writeString(dir.resolve("metrics.jsonl"), lines);
        int exit = Ringformer.commandLine().execute("metrics", "plot", dir.toString());
        assertEquals(0, exit);
        BufferedImage image = ImageIO.read(dir.resolve("loss.png").toFile());
        assertEquals(1800, image.getWidth());
        assertEquals(1080, image.getHeight());
        assertEquals(0xFFFFFF, image.getRGB(1500, 800) & 0xFFFFFF, "the empty fourth cell");
        assertTrue(coloured(image, 900, 0) && coloured(image, 0, 540), "the gradient-norm and throughput panels draw lines");
        assertEquals(2, Ringformer.commandLine().execute("metrics", "plot", dir.resolve("nowhere").toString()));
    }

    /** Whether the 900 × 540 panel at (x, y) holds a blue plot line (XChart's first series colour). */
    private static boolean coloured(BufferedImage image, int x, int y) {
        for (int i = x + 60; i < x + 880; i++) {
            for (int j = y + 40; j < y + 480; j++) {
                int rgb = image.getRGB(i, j);
                if ((rgb & 0xFF) > 200 && ((rgb >> 16) & 0xFF) < 100) {
                    return true;
                }
            }
        }
        return false;
    }

    @Test
    void aBackgroundWriteIsOnDiskOnceFinished(@TempDir Path dir) throws Exception {
        LossPlot plot = new LossPlot(dir.resolve("loss.png"));
        List<String> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (int step = 0; step <= 300; step += 100) {
            plot.step(step, 3.0 - step / 200.0);
            plot.evaluation(step, 3.0 - step / 200.0, 3.1 - step / 200.0, java.util.Map.of("accuracy", step / 400.0));
            plot.writeLater(errors::add);
        }
        plot.finish(30_000);
        assertEquals(List.of(), errors);
        assertEquals(1800, ImageIO.read(dir.resolve("loss.png").toFile()).getWidth());
    }

    /** A metrics.jsonl of logged steps and three evaluations carrying {@code extra} (its %s: a value), drawn. */
    private static BufferedImage draw(Path dir, String extra) throws Exception {
        Path metrics = dir.resolve("metrics.jsonl");
        StringBuilder lines = new StringBuilder();
        for (int step = 0; step <= 200; step += 10) {
            lines.append("{\"step\":").append(step).append(",\"loss\":").append(3.0 - step / 100.0).append("}\n");
            if (step % 100 == 0) {
                lines.append("{\"step\":").append(step).append(",\"val_loss\":").append(3.1 - step / 100.0)
                        .append(",\"train_loss\":").append(3.0 - step / 100.0)
                        .append(String.format(extra, 0.1 + step / 400.0)).append("}\n");
            }
        }
        lines.append("{\"step\":2"); // a line torn by a crash is skipped
        Files.writeString(metrics, lines);
        LossPlot plot = new LossPlot(dir.resolve("loss.png"));
        plot.replay(metrics);
        plot.write();
        assertEquals(List.of("loss.png", "metrics.jsonl"), Files.list(dir).map(p -> p.getFileName().toString())
                .sorted().toList());
        return ImageIO.read(dir.resolve("loss.png").toFile());
    }
}

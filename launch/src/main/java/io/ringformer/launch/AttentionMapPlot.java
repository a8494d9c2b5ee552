package io.ringformer.launch;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * Heatmaps of attention weights, one panel per head: queries down the rows, keys along the columns, each cell
 * shaded from white (0) to dark blue (1) on a square-root scale, so that small weights stay visible. A causal
 * model's panels are white above the diagonal; a windowed or sparse type's show their pattern.
 *
 * <p>Long texts: cells shrink with the number of tokens (from 24 px down to 3 px), and when cells are too small for
 * every label to be legible, only every k-th token is labelled, k = ⌈10 px / cell⌉; the rule is printed under the
 * panels. Spaces are drawn as ␣ and line breaks as ⏎.
 */
final class AttentionMapPlot {

    private static final int PANEL_PIXELS = 560;
    private static final int MARGIN = 70;        // room for the labels left of and above each panel
    private static final int TITLE = 22;

    private AttentionMapPlot() {}

    /** Where the cells of n tokens go: {@code cell} pixels each, panels of heads in {@code columns} columns. */
    record Layout(int n, int cell, int every, int columns, int panel) {
        static Layout of(int n, int heads) {
            int cell = Math.max(3, Math.min(24, PANEL_PIXELS / n));
            return new Layout(n, cell, (int) Math.ceil(10.0 / cell), Math.min(heads, 2), MARGIN + n * cell + 16);
        }

        /** The left edge of key column 0 of a head's panel. */
        int x(int head) {
            return 8 + (head % columns) * panel + MARGIN;
        }

        /** The top edge of query row 0 of a head's panel. */
        int y(int head) {
            return 8 + (head / columns) * (panel + TITLE) + TITLE + MARGIN;
        }
    }

    /**
     * @param maps   [heads][T][T], rows summing to 1 over the allowed keys
     * @param labels the T tokens
     * @param titles one per head
     * @return the labelling rule applied, for the caller to print
     */
    static String write(Path file, float[][][] maps, List<String> labels, List<String> titles, String caption)
            throws IOException {
        int n = labels.size();
        Layout layout = Layout.of(n, maps.length);
        int cell = layout.cell();
        int every = layout.every();
        int rows = (maps.length + layout.columns() - 1) / layout.columns();
        int width = layout.columns() * layout.panel() + 16;
        int height = rows * (layout.panel() + TITLE) + 40;
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        Font font = new Font(Font.SANS_SERIF, Font.PLAIN, Math.max(9, Math.min(13, cell - 2)));
        for (int head = 0; head < maps.length; head++) {
            int x0 = layout.x(head);
            int y0 = layout.y(head);
            g.setColor(Color.BLACK);
            g.setFont(font.deriveFont(Font.BOLD, 13f));
            g.drawString(titles.get(head), x0 - MARGIN, y0 - MARGIN - 6);
            for (int t = 0; t < n; t++) {
                for (int s = 0; s < n; s++) {
                    g.setColor(shade(maps[head][t][s]));
                    g.fillRect(x0 + s * cell, y0 + t * cell, cell, cell);
                }
            }
            g.setColor(Color.GRAY);
            g.drawRect(x0, y0, n * cell, n * cell);
            g.setFont(font);
            g.setColor(Color.BLACK);
            for (int i = 0; i < n; i += every) {
                String label = visible(labels.get(i), font);
                int width0 = g.getFontMetrics().stringWidth(label);
                g.drawString(label, x0 - 4 - width0, y0 + i * cell + cell / 2 + 4);              // query, left
                AffineTransform saved = g.getTransform();
                g.translate(x0 + i * cell + cell / 2 + 4, y0 - 4);
                g.rotate(-Math.PI / 2);
                g.drawString(label, 0, 0);                                                    // key, on top
                g.setTransform(saved);
            }
        }
        g.setColor(Color.DARK_GRAY);
        g.setFont(font.deriveFont(12f));
        String rule = every == 1 ? "every token labelled" : "one token in " + every + " labelled (cells of "
                + cell + " px)";
        g.drawString(caption + "; rows: queries, columns: keys; white 0 → blue 1 (√ scale); " + rule, 8,
                height - 14);
        g.dispose();
        ImageIO.write(image, "png", file.toFile());
        return rule;
    }

    /**
     * ViT: each head's weights over the patch grid, drawn over the gray image (10 pixels per image pixel) as red,
     * transparent at the head's smallest weight and most opaque at its largest.
     *
     * @param pixels [height·width] in [0, 1]
     * @param grids  [heads][rows][columns] of patches
     */
    static void writeOverImage(Path file, float[] pixels, int height, int width, float[][][] grids,
                               List<String> titles, String caption) throws IOException {
        int scale = 10;
        int columns = Math.min(grids.length, 4);
        int rows = (grids.length + columns - 1) / columns;
        int panelWidth = width * scale + 20;
        int panelHeight = height * scale + TITLE + 20;
        BufferedImage image = new BufferedImage(Math.max(columns * panelWidth + 10, 8 * caption.length()),
                rows * panelHeight + 40, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, image.getWidth(), image.getHeight());
        for (int head = 0; head < grids.length; head++) {
            int x0 = 10 + (head % columns) * panelWidth;
            int y0 = 10 + (head / columns) * panelHeight + TITLE;
            float[][] grid = grids[head];
            int patchRows = height / grid.length;
            int patchColumns = width / grid[0].length;
            float max = Float.NEGATIVE_INFINITY;
            float min = Float.POSITIVE_INFINITY;
            for (float[] row : grid) {
                for (float w : row) {
                    max = Math.max(max, w);
                    min = Math.min(min, w);
                }
            }
            float range = Math.max(max - min, 1e-12f);
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    float gray = Math.max(0, Math.min(1, pixels[y * width + x]));
                    float alpha = 0.8f * (grid[y / patchRows][x / patchColumns] - min) / range;
                    int red = Math.round(255 * (gray * (1 - alpha) + alpha));
                    int other = Math.round(255 * gray * (1 - alpha));
                    g.setColor(new Color(red, other, other));
                    g.fillRect(x0 + x * scale, y0 + y * scale, scale, scale);
                }
            }
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
            g.drawString(titles.get(head), x0, y0 - 6);
        }
        g.setColor(Color.DARK_GRAY);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawString(caption, 10, image.getHeight() - 14);
        g.dispose();
        ImageIO.write(image, "png", file.toFile());
    }

    private static Color shade(float weight) {
        double w = Math.sqrt(Math.max(0, Math.min(1, weight)));
        return new Color((int) Math.round(255 - 247 * w), (int) Math.round(255 - 207 * w),
                (int) Math.round(255 - 148 * w));
    }

    private static String visible(String token, Font font) {
        String space = font.canDisplay('␣') ? "␣" : "_";
        String newline = font.canDisplay('⏎') ? "⏎" : "\\n";
        return token.replace(" ", space).replace("\n", newline).replace("\t", "→");
    }
}

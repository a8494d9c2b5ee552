package io.ringformer.zoo.vision;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import javax.imageio.IIOException;
import javax.imageio.ImageIO;

/**
 * A user's picture as a model of {@link ImageDataset} sees one, and back: {@link #read} turns an image file into a
 * 28 × 28 grayscale float array in [0, 1], {@link #write} saves such an array as an 8-bit grayscale PNG.
 *
 * <p>Reading, step by step:
 * <ol>
 *   <li>javax.imageio decodes the file: PNG, and also JPEG, GIF and BMP.
 *   <li>Luminance: a gray image's samples are taken as they are (sample / (2^bits − 1)); a color image's are
 *       0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, as PIL's {@code convert("L")}) of its sRGB values. Alpha is
 *       ignored, as PIL does.
 *   <li>Size: an image that is not 28 × 28 is resized by area averaging — each output pixel is the mean of the
 *       source area it covers, fractional pixels weighted by their overlap — which neither aliases when shrinking
 *       nor blurs across more than one source pixel when enlarging. A non-square image is stretched, not cropped.
 * </ol>
 * Nothing inverts: datasets of this package are light on dark (MNIST: white digits on black), and a dark-on-light
 * drawing must be inverted by whoever makes it.
 */
public final class PngImages {

    private PngImages() {}

    /** A 28 × 28 image, [28, 28] row-major, each pixel in [0, 1]. */
    public static float[] read(Path file) throws IOException {
        return read(file, ImageDataset.HEIGHT, ImageDataset.WIDTH);
    }

    /**
     * A {@code height} × {@code width} grayscale image, row-major, each pixel in [0, 1].
     *
     * @throws IllegalArgumentException naming the file when it does not exist or is no image javax.imageio reads
     */
    public static float[] read(Path file, int height, int width) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("no image at " + file + ": the file does not exist");
        }
        BufferedImage image;
        try {
            image = ImageIO.read(file.toFile());
        } catch (IIOException e) {
            throw new IllegalArgumentException(file + " is a damaged image: " + e.getMessage(), e);
        }
        if (image == null) {
            throw new IllegalArgumentException(file + " is not an image javax.imageio can read (PNG, JPEG, GIF or BMP)");
        }
        double[] gray = luminance(image);
        return resize(gray, image.getHeight(), image.getWidth(), height, width);
    }

    /** [h, w] row-major, in [0, 1]. */
    private static double[] luminance(BufferedImage image) {
        int h = image.getHeight();
        int w = image.getWidth();
        double[] gray = new double[h * w];
        ColorModel model = image.getColorModel();
        if (model.getColorSpace().getType() == ColorSpace.TYPE_GRAY && model.getNumColorComponents() == 1) {
            // getRGB would convert from Java's linear gray to sRGB and change the values: read the samples.
            Raster raster = image.getRaster();
            double max = (1L << model.getComponentSize(0)) - 1;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    gray[y * w + x] = raster.getSample(x, y, 0) / max;
                }
            }
        } else {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int rgb = image.getRGB(x, y);
                    gray[y * w + x] = (0.299 * ((rgb >> 16) & 0xff) + 0.587 * ((rgb >> 8) & 0xff)
                            + 0.114 * (rgb & 0xff)) / 255;
                }
            }
        }
        return gray;
    }

    /** Area averaging from [h, w] to [outH, outW]; the identity when the sizes are equal. */
    private static float[] resize(double[] source, int h, int w, int outH, int outW) {
        double[][] rowWeights = coverage(h, outH);   // [outH, h]: how much of source row j output row i covers
        double[][] columnWeights = coverage(w, outW); // [outW, w]
        float[] out = new float[outH * outW];
        double[] rowMix = new double[w];
        for (int i = 0; i < outH; i++) {
            Arrays.fill(rowMix, 0);
            for (int j = 0; j < h; j++) {
                double weight = rowWeights[i][j];
                if (weight != 0) {
                    for (int x = 0; x < w; x++) {
                        rowMix[x] += weight * source[j * w + x];
                    }
                }
            }
            for (int k = 0; k < outW; k++) {
                double value = 0;
                for (int x = 0; x < w; x++) {
                    value += columnWeights[k][x] * rowMix[x];
                }
                out[i * outW + k] = (float) Math.min(1, Math.max(0, value));
            }
        }
        return out;
    }

    /**
     * weights[i][j]: the share of output cell i, [i·n/m, (i+1)·n/m) in source units, that source cell [j, j+1)
     * covers; each row sums to 1.
     */
    private static double[][] coverage(int n, int m) {
        double[][] weights = new double[m][n];
        double step = (double) n / m;
        for (int i = 0; i < m; i++) {
            double from = i * step;
            double to = (i + 1) * step;
            for (int j = (int) Math.floor(from); j < n && j < to; j++) {
                double overlap = Math.min(to, j + 1) - Math.max(from, j);
                if (overlap > 0) {
                    weights[i][j] = overlap / step;
                }
            }
        }
        return weights;
    }

    /**
     * Writes {@code pixels} ([height, width] row-major, in [0, 1]; values outside are clamped) as an 8-bit grayscale
     * PNG, each pixel round(255 · value), so {@link #read} gives back every pixel within 1/510.
     */
    public static void write(Path file, float[] pixels, int height, int width) throws IOException {
        if (height < 1 || width < 1 || pixels.length != height * width) {
            throw new IllegalArgumentException(pixels.length + " pixels are not a " + height + " × " + width
                    + " image");
        }
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_BYTE_GRAY);
        WritableRaster raster = image.getRaster();
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                float value = pixels[y * width + x];
                raster.setSample(x, y, 0, Math.round(255 * Math.min(1f, Math.max(0f, value))));
            }
        }
        if (!ImageIO.write(image, "png", file.toFile())) {
            throw new IOException("no PNG writer in this JVM's javax.imageio, so " + file + " was not written");
        }
    }
}

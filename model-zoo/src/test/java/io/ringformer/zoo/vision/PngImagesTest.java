package io.ringformer.zoo.vision;

import static io.ringformer.zoo.vision.ImageDataset.PIXELS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.vision.ImageDataset.Split;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PngImagesTest {

    @TempDir
    Path dir;

    @Test
    void aDatasetImageWrittenAsPngReadsBackEqual() throws IOException {
        for (ImageDataset dataset : new ImageDataset[] {RealImages.mnist(), RealImages.fashionMnist()}) {
            float[] image = new float[PIXELS];
            dataset.fillOrdered(Split.TEST, 17, 1, image, new int[1]);
            Path png = dir.resolve(dataset.name() + ".png");
            PngImages.write(png, image, 28, 28);
            float[] read = PngImages.read(png);
            assertArrayEquals(image, read, 1 / 255f, dataset.name());
            assertArrayEquals(image, read, dataset.name()); // the bytes survive exactly: both are byte / 255
        }
    }

    @Test
    void colorIsLuminanceAndAreaAveragingShrinksBlocksToTheirMean() throws IOException {
        BufferedImage color = new BufferedImage(56, 56, BufferedImage.TYPE_INT_RGB); // 2 × 2 blocks of one color
        for (int y = 0; y < 56; y++) {
            for (int x = 0; x < 56; x++) {
                int block = (y / 2) * 28 + x / 2;
                color.setRGB(x, y, block % 3 == 0 ? 0xff0000 : block % 3 == 1 ? 0x00ff00 : 0xffffff);
            }
        }
        Path png = dir.resolve("color.png");
        ImageIO.write(color, "png", png.toFile());
        float[] read = PngImages.read(png);
        assertEquals(PIXELS, read.length);
        for (int i = 0; i < PIXELS; i++) {
            float expected = i % 3 == 0 ? 0.299f : i % 3 == 1 ? 0.587f : 1f;
            assertEquals(expected, read[i], 1e-6, "pixel " + i);
        }

        BufferedImage half = new BufferedImage(2, 1, BufferedImage.TYPE_BYTE_GRAY); // black | white, 1 row
        half.getRaster().setSample(1, 0, 0, 255);
        Path wide = dir.resolve("wide.png");
        ImageIO.write(half, "png", wide.toFile());
        float[] stretched = PngImages.read(wide);
        for (int y = 0; y < 28; y++) {
            for (int x = 0; x < 28; x++) {
                assertEquals(x < 14 ? 0f : 1f, stretched[y * 28 + x], "pixel " + y + ", " + x);
            }
        }
        float[] three = PngImages.read(wide, 1, 3); // the middle pixel covers half of each
        assertArrayEquals(new float[] {0, 0.5f, 1}, three, 1e-6f);
    }

    @Test
    void aSmallImageIsEnlargedWithoutBlur() throws IOException {
        float[] small = new float[14 * 14];
        for (int i = 0; i < small.length; i++) {
            small[i] = (i % 256) / 255f;
        }
        Path png = dir.resolve("small.png");
        PngImages.write(png, small, 14, 14);
        float[] read = PngImages.read(png);
        for (int y = 0; y < 28; y++) {
            for (int x = 0; x < 28; x++) {
                assertEquals(small[(y / 2) * 14 + x / 2], read[y * 28 + x], 1e-6, "pixel " + y + ", " + x);
            }
        }
    }

    @Test
    void sixteenBitGrayKeepsItsValues() throws IOException {
        BufferedImage deep = new BufferedImage(28, 28, BufferedImage.TYPE_USHORT_GRAY);
        deep.getRaster().setSample(3, 4, 0, 65535);
        deep.getRaster().setSample(5, 6, 0, 32768);
        Path png = dir.resolve("deep.png");
        ImageIO.write(deep, "png", png.toFile());
        float[] read = PngImages.read(png);
        assertEquals(1f, read[4 * 28 + 3]);
        assertEquals(32768 / 65535f, read[6 * 28 + 5], 1e-6);
        assertEquals(0f, read[0]);
    }

    @Test
    void aMissingFileOrANonImageIsAClearError() throws IOException {
        Path absent = dir.resolve("absent.png");
        String message = assertThrows(IllegalArgumentException.class, () -> PngImages.read(absent)).getMessage();
        assertTrue(message.contains(absent.toString()) && message.contains("does not exist"), message);

        Path text = Files.writeString(dir.resolve("digit.png"), "not a picture");
        message = assertThrows(IllegalArgumentException.class, () -> PngImages.read(text)).getMessage();
        assertTrue(message.contains(text + " is not an image"), message);

        byte[] png = Files.readAllBytes(writeSomePng());
        Path damaged = Files.write(dir.resolve("damaged.png"), java.util.Arrays.copyOf(png, 60));
        message = assertThrows(IllegalArgumentException.class, () -> PngImages.read(damaged)).getMessage();
        assertTrue(message.contains(damaged.toString()), message);

        assertThrows(IllegalArgumentException.class, () -> PngImages.write(dir.resolve("x.png"), new float[10], 3, 3));
    }

    private Path writeSomePng() throws IOException {
        float[] pixels = new float[PIXELS];
        for (int i = 0; i < PIXELS; i++) {
            pixels[i] = (i * 37 % 256) / 255f;
        }
        Path file = dir.resolve("some.png");
        PngImages.write(file, pixels, 28, 28);
        return file;
    }
}

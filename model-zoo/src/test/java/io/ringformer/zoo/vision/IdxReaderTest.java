package io.ringformer.zoo.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.vision.IdxReader.Idx;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxReaderTest {

    @TempDir
    Path dir;

    @Test
    void fashionMnistHasSixtyThousandTrainAndTenThousandTestImagesOf28By28() throws IOException {
        Path fashion = RealImages.fashionMnistDir();
        Idx trainImages = IdxReader.readImages(fashion.resolve("train-images-idx3-ubyte.gz"));
        Idx trainLabels = IdxReader.readLabels(fashion.resolve("train-labels-idx1-ubyte.gz"));
        Idx testImages = IdxReader.readImages(fashion.resolve("t10k-images-idx3-ubyte.gz"));
        Idx testLabels = IdxReader.readLabels(fashion.resolve("t10k-labels-idx1-ubyte.gz"));
        assertArrayEquals(new int[] {60_000, 28, 28}, trainImages.sizes());
        assertArrayEquals(new int[] {60_000}, trainLabels.sizes());
        assertArrayEquals(new int[] {10_000, 28, 28}, testImages.sizes());
        assertArrayEquals(new int[] {10_000}, testLabels.sizes());
        assertEquals(60_000 * 784, trainImages.data().length);
        assertEquals(10_000, testLabels.data().length);
    }

    @Test
    void theMnistDigitsFetchDataWroteAreTenThousandWithLabelsZeroToNine() throws IOException {
        Idx images = IdxReader.readImages(RealImages.mnistDir().resolve("digits-images-idx3-ubyte"));
        Idx labels = IdxReader.readLabels(RealImages.mnistDir().resolve("digits-labels-idx1-ubyte"));
        assertArrayEquals(new int[] {10_000, 28, 28}, images.sizes());
        assertArrayEquals(new int[] {10_000}, labels.sizes());
        int[] perDigit = new int[10];
        for (byte label : labels.data()) {
            perDigit[label]++; // a label beyond 9 fails here
        }
        // The package's src/digits/<d>.json, 784 values per image:
        assertArrayEquals(new int[] {1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978}, perDigit);
        // 0.json's first image starts with 0.2, 0.624, 0.992 at pixels 127, 128, 129: bytes 51, 159, 253.
        assertEquals(0, images.data()[126]);
        assertEquals(51, images.data()[127] & 0xff);
        assertEquals(159, images.data()[128] & 0xff);
        assertEquals(253, images.data()[129] & 0xff);
    }

    @Test
    void plainAndGzipFilesReadTheSame() throws IOException {
        byte[] file = idx(0x08, new int[] {2, 3, 4}, 24);
        Path plain = write("plain-idx3-ubyte", file);
        Path gzip = write("gzip-idx3-ubyte.gz", gzip(file));
        Path gzipWithoutSuffix = write("gzip-idx3-ubyte", gzip(file)); // told by its bytes, not its name
        for (Path path : new Path[] {plain, gzip, gzipWithoutSuffix}) {
            Idx read = IdxReader.readImages(path);
            assertArrayEquals(new int[] {2, 3, 4}, read.sizes(), path.toString());
            assertArrayEquals(Arrays.copyOfRange(file, 16, file.length), read.data(), path.toString());
            assertEquals(2, read.count());
        }
    }

    @Test
    void aTruncatedFileNamesItselfAndTheSizes() throws IOException {
        byte[] file = idx(0x08, new int[] {5, 28, 28}, 5 * 784);
        byte[] cut = Arrays.copyOf(file, file.length - 100);
        Path plain = write("cut-idx3-ubyte", cut);
        String message = assertThrows(IllegalArgumentException.class, () -> IdxReader.readImages(plain)).getMessage();
        assertTrue(message.contains(plain.toString()) && message.contains("truncated")
                && message.contains("5 × 28 × 28 = 3920 bytes of data, it has 3820"), message);

        Path header = write("header-idx3-ubyte", Arrays.copyOf(file, 10));
        message = assertThrows(IllegalArgumentException.class, () -> IdxReader.readImages(header)).getMessage();
        assertTrue(message.contains(header.toString()) && message.contains("truncated in its header"), message);

        byte[] zipped = gzip(file);
        Path gzip = write("cut-idx3-ubyte.gz", Arrays.copyOf(zipped, zipped.length / 2));
        message = assertThrows(IllegalArgumentException.class, () -> IdxReader.readImages(gzip)).getMessage();
        assertTrue(message.contains(gzip.toString()) && message.contains("truncated"), message);
    }

    @Test
    void aWrongMagicNumberIsReportedWithTheBytesFound() throws IOException {
        Path text = write("notes.txt", "this is not an idx file".getBytes());
        String message = assertThrows(IllegalArgumentException.class, () -> IdxReader.readImages(text)).getMessage();
        assertTrue(message.contains(text + " is not an idx file") && message.contains("74 68 69 73"), message);

        Path labels = write("labels-idx1-ubyte", idx(0x08, new int[] {3}, 3));
        message = assertThrows(IllegalArgumentException.class, () -> IdxReader.readImages(labels)).getMessage();
        assertTrue(message.contains(labels + " has 1 dimensions") && message.contains("expected 3"), message);

        Path floats = write("floats-idx3", idx(0x0D, new int[] {1, 1, 1}, 4));
        message = assertThrows(IllegalArgumentException.class, () -> IdxReader.readImages(floats)).getMessage();
        assertTrue(message.contains(floats + " holds idx type 0x0d"), message);

        Path tiny = write("tiny", new byte[] {0, 0});
        message = assertThrows(IllegalArgumentException.class, () -> IdxReader.readLabels(tiny)).getMessage();
        assertTrue(message.contains(tiny + " is not an idx file: it has 2 bytes"), message);
    }

    @Test
    void extraBytesOrEmptyDimensionsAreErrors() throws IOException {
        byte[] file = idx(0x08, new int[] {4}, 4);
        Path longer = write("longer-idx1-ubyte", Arrays.copyOf(file, file.length + 1));
        String message = assertThrows(IllegalArgumentException.class, () -> IdxReader.readLabels(longer)).getMessage();
        assertTrue(message.contains(longer + " has bytes after the 4 of data"), message);

        Path empty = write("empty-idx1-ubyte", idx(0x08, new int[] {0}, 0));
        message = assertThrows(IllegalArgumentException.class, () -> IdxReader.readLabels(empty)).getMessage();
        assertTrue(message.contains(empty + " has dimension 0 of size 0"), message);

        Path huge = write("huge-idx3-ubyte", idx(0x08, new int[] {100_000, 1000, 1000}, 0));
        message = assertThrows(IllegalArgumentException.class, () -> IdxReader.readImages(huge)).getMessage();
        assertTrue(message.contains("fit in one Java array"), message);
    }

    @Test
    void aMissingFileIsNoSuchFile() {
        assertThrows(NoSuchFileException.class, () -> IdxReader.readLabels(dir.resolve("absent-idx1-ubyte")));
    }

    /** An idx file: magic 00 00 type rank, the sizes, then {@code dataBytes} bytes counting up. */
    static byte[] idx(int type, int[] sizes, int dataBytes) {
        ByteBuffer buffer = ByteBuffer.allocate(4 + 4 * sizes.length + dataBytes); // big-endian
        buffer.put((byte) 0).put((byte) 0).put((byte) type).put((byte) sizes.length);
        for (int size : sizes) {
            buffer.putInt(size);
        }
        for (int i = 0; i < dataBytes; i++) {
            buffer.put((byte) (i * 7));
        }
        return buffer.array();
    }

    static byte[] gzip(byte[] bytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream zip = new GZIPOutputStream(out)) {
            zip.write(bytes);
        }
        return out.toByteArray();
    }

    private Path write(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }
}

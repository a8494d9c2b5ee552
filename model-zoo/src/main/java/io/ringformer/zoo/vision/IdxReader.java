package io.ringformer.zoo.vision;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads idx files, the format of MNIST and Fashion-MNIST (LeCun et al., "THE MNIST DATABASE of handwritten digits"):
 * <pre>
 * 0x00 0x00           two zero bytes
 * type                one byte: 0x08 unsigned byte (the only type read here), 0x09 signed byte, 0x0B short,
 *                     0x0C int, 0x0D float, 0x0E double
 * rank                one byte: the number of dimensions
 * size × rank         each a big-endian unsigned 32-bit integer (images: count, rows, columns; labels: count)
 * data                the product of the sizes, in values of the type, row-major (last dimension fastest)
 * </pre>
 * A file is read whole, gzip-compressed or not (told by its first bytes, not its name). Anything that does not
 * match — magic, sizes, a truncated or over-long body, a broken gzip stream — is an {@link IllegalArgumentException}
 * that names the file and what was found.
 */
public final class IdxReader {

    /** The type byte of unsigned bytes, the only element type MNIST-like files use. */
    public static final int UNSIGNED_BYTE = 0x08;

    /** An idx file of unsigned bytes: its sizes and its data, row-major. */
    public record Idx(Path file, int[] sizes, byte[] data) {

        /** The first size: the number of images or labels. */
        public int count() {
            return sizes[0];
        }
    }

    private IdxReader() {}

    /** Images: an idx file of unsigned bytes with three dimensions, [count, rows, columns]. */
    public static Idx readImages(Path file) throws IOException {
        return read(file, 3);
    }

    /** Labels: an idx file of unsigned bytes with one dimension, [count]. */
    public static Idx readLabels(Path file) throws IOException {
        return read(file, 1);
    }

    /**
     * An idx file of unsigned bytes with {@code rank} dimensions.
     *
     * @throws NoSuchFileException      when the file does not exist
     * @throws IllegalArgumentException when it is no such idx file, naming the file and what is wrong
     */
    public static Idx read(Path file, int rank) throws IOException {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            raw.mark(2);
            boolean gzip = raw.read() == 0x1f && raw.read() == 0x8b;
            raw.reset();
            String where = file + (gzip ? " (gzip)" : "");
            try (DataInputStream in = new DataInputStream(gzip ? new GZIPInputStream(raw, 1 << 16) : raw)) {
                return read(file, where, in, rank);
            } catch (EOFException | ZipException e) {
                throw new IllegalArgumentException(where + " is truncated or not a valid gzip stream: "
                        + e.getMessage(), e);
            }
        }
    }

    private static Idx read(Path file, String where, DataInputStream in, int rank) throws IOException {
        byte[] magic = in.readNBytes(4);
        if (magic.length < 4) {
            throw new IllegalArgumentException(where + " is not an idx file: it has " + magic.length
                    + " bytes, fewer than the 4 of the magic number");
        }
        if (magic[0] != 0 || magic[1] != 0) {
            throw new IllegalArgumentException(where + " is not an idx file: its magic number is "
                    + hex(magic) + ", which must start with two zero bytes (00 00 08 03 for images, 00 00 08 01"
                    + " for labels)");
        }
        if ((magic[2] & 0xff) != UNSIGNED_BYTE) {
            throw new IllegalArgumentException(where + " holds idx type 0x" + String.format("%02x", magic[2] & 0xff)
                    + " (magic " + hex(magic) + "); only unsigned bytes (0x08) are read");
        }
        if (magic[3] != rank) {
            throw new IllegalArgumentException(where + " has " + magic[3] + " dimensions (magic " + hex(magic)
                    + "), expected " + rank + (rank == 3 ? " (images: count, rows, columns)" : "")
                    + (rank == 1 ? " (labels: count)" : ""));
        }
        int[] sizes = new int[rank];
        long total = 1;
        for (int d = 0; d < rank; d++) {
            byte[] size = in.readNBytes(4);
            if (size.length < 4) {
                throw new IllegalArgumentException(where + " is truncated in its header: it ends before size "
                        + (d + 1) + " of " + rank);
            }
            long value = ((size[0] & 0xffL) << 24) | ((size[1] & 0xff) << 16) | ((size[2] & 0xff) << 8)
                    | (size[3] & 0xff);
            total *= value;
            if (value == 0 || total > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException(where + " has dimension " + d + " of size " + value + " (sizes so"
                        + " far " + Arrays.toString(Arrays.copyOf(sizes, d)) + "): the data must be non-empty and"
                        + " fit in one Java array");
            }
            sizes[d] = (int) value;
        }
        byte[] data = in.readNBytes((int) total);
        if (data.length < total) {
            throw new IllegalArgumentException(where + " is truncated: its header says " + shape(sizes) + " = "
                    + total + " bytes of data, it has " + data.length);
        }
        if (in.read() != -1) {
            throw new IllegalArgumentException(where + " has bytes after the " + total + " of data its header"
                    + " announces (" + shape(sizes) + ")");
        }
        return new Idx(file, sizes, data);
    }

    private static String shape(int[] sizes) {
        StringBuilder text = new StringBuilder();
        for (int size : sizes) {
            text.append(text.length() == 0 ? "" : " × ").append(size);
        }
        return text.toString();
    }

    private static String hex(byte[] bytes) {
        StringBuilder text = new StringBuilder();
        for (byte b : bytes) {
            text.append(text.length() == 0 ? "" : " ").append(String.format("%02x", b & 0xff));
        }
        return text.toString();
    }
}

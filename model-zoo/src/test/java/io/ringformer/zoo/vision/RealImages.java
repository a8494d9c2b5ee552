package io.ringformer.zoo.vision;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The real images tests read, brought by launch/fetch-data.sh (the README's test command runs it). Missing data fails
 * a test, with the fix: a skipped test would pass a build that never looked at the data.
 */
final class RealImages {

    private static ImageDataset fashionMnist;
    private static ImageDataset mnist;

    private RealImages() {}

    /** Debian's dataset-fashion-mnist, in /usr/share/datasets/fashion-mnist. */
    static Path fashionMnistDir() {
        Path dir = ImageDataset.FASHION_MNIST_DIR;
        if (!Files.isRegularFile(dir.resolve("train-images-idx3-ubyte.gz"))) {
            throw new IllegalStateException(dir + " has no Fashion-MNIST: run launch/fetch-data.sh first (as root; or"
                    + " apt-get install -y dataset-fashion-mnist)");
        }
        return dir;
    }

    /** The MNIST digits launch/fetch-data.sh writes into data/mnist, from the module's or the project's folder. */
    static Path mnistDir() {
        for (Path candidate : new Path[] {ImageDataset.MNIST_DIR, Path.of("..").resolve(ImageDataset.MNIST_DIR)}) {
            if (Files.isRegularFile(candidate.resolve("digits-images-idx3-ubyte"))) {
                return candidate.toAbsolutePath().normalize();
            }
        }
        throw new IllegalStateException("data/mnist/digits-images-idx3-ubyte is missing: run launch/fetch-data.sh"
                + " first");
    }

    static synchronized ImageDataset fashionMnist() {
        try {
            if (fashionMnist == null) {
                fashionMnist = ImageDataset.fashionMnist(fashionMnistDir());
            }
            return fashionMnist;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static synchronized ImageDataset mnist() {
        try {
            if (mnist == null) {
                mnist = ImageDataset.mnist(mnistDir());
            }
            return mnist;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

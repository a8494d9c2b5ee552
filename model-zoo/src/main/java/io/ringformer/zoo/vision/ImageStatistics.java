package io.ringformer.zoo.vision;

import io.ringformer.zoo.family.Artifact;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What an image model needs to see images as it was trained on them: the per-channel mean and standard deviation of
 * the training split's pixels (in [0, 1]), the image size and the class names. It is the preprocessing artifact of
 * image families, saved with each checkpoint as {@value #FILE_NAME} — the counterpart of a text model's
 * tokenizer.json — and applied by {@link #normalize} to training, evaluation and user images alike.
 *
 * <p>File format, JSON (Fashion-MNIST's; MNIST's 8,004 training digits give mean 0.1309, std 0.3084):
 * <pre>
 * {
 *   "format" : "ringformer-image-stats 1",
 *   "mean" : [ 0.2860405969887955 ],   one per channel
 *   "std" : [ 0.3530242445149226 ],    one per channel: population (divide by n), each &gt; 0
 *   "height" : 28,
 *   "width" : 28,
 *   "channels" : 1,
 *   "class_names" : [ "T-shirt/top", "Trouser", … ]   by label
 * }
 * </pre>
 */
public final class ImageStatistics implements Artifact {

    /** The name of the file in a checkpoint directory. */
    public static final String FILE_NAME = "image_stats.json";
    /** The value of "format": the file's name and version. */
    public static final String FORMAT = "ringformer-image-stats 1";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final double[] mean;
    private final double[] std;
    private final int height;
    private final int width;
    private final int channels;
    private final List<String> classNames;

    /**
     * @throws IllegalArgumentException unless mean and std have one finite value per channel, each std is &gt; 0 and
     *                                  the sizes are positive
     */
    public ImageStatistics(double[] mean, double[] std, int height, int width, int channels, List<String> classNames) {
        if (height < 1 || width < 1 || channels < 1) {
            throw new IllegalArgumentException("height, width and channels must be ≥ 1, got " + height + ", " + width
                    + ", " + channels);
        }
        if (mean.length != channels || std.length != channels) {
            throw new IllegalArgumentException("mean and std need one value per channel (" + channels + "), got "
                    + Arrays.toString(mean) + " and " + Arrays.toString(std));
        }
        for (int c = 0; c < channels; c++) {
            if (!Double.isFinite(mean[c]) || !(std[c] > 0) || !Double.isFinite(std[c])) {
                throw new IllegalArgumentException("channel " + c + " has mean " + mean[c] + " and std " + std[c]
                        + ": both must be finite and the std > 0");
            }
        }
        this.mean = mean.clone();
        this.std = std.clone();
        this.height = height;
        this.width = width;
        this.channels = channels;
        this.classNames = List.copyOf(classNames);
    }

    /**
     * The statistics of {@code dataset}'s training split, over every pixel of every image as byte / 255. The sums
     * of bytes and of their squares are exact integers, so the result does not depend on the order of the pixels.
     */
    public static ImageStatistics of(ImageDataset dataset) {
        byte[] pixels = dataset.imageBytes(ImageDataset.Split.TRAIN);
        long sum = 0;
        long sumOfSquares = 0;
        for (byte p : pixels) {
            int b = p & 0xff;
            sum += b;
            sumOfSquares += b * b;
        }
        double n = pixels.length;
        double mean = sum / n;                                              // in bytes
        double variance = Math.max(0, sumOfSquares / n - mean * mean);
        return new ImageStatistics(new double[] {mean / 255}, new double[] {Math.sqrt(variance) / 255},
                ImageDataset.HEIGHT, ImageDataset.WIDTH, ImageDataset.CHANNELS, dataset.classNames());
    }

    public double[] mean() {
        return mean.clone();
    }

    public double[] std() {
        return std.clone();
    }

    public int height() {
        return height;
    }

    public int width() {
        return width;
    }

    public int channels() {
        return channels;
    }

    public List<String> classNames() {
        return classNames;
    }

    /**
     * In place, (pixel − mean[c]) / std[c] for images laid out [n, channels, height, width], row-major, as
     * {@link ImageDataset#fill} writes them.
     *
     * @throws IllegalArgumentException when the length is not a whole number of images
     */
    public void normalize(float[] pixels) {
        int plane = height * width;
        int image = channels * plane;
        if (pixels.length % image != 0) {
            throw new IllegalArgumentException(pixels.length + " floats are not a whole number of " + channels + " × "
                    + height + " × " + width + " images");
        }
        for (int c = 0; c < channels; c++) {
            float shift = (float) mean[c];
            float scale = (float) (1 / std[c]);
            for (int start = c * plane; start < pixels.length; start += image) {
                for (int i = start; i < start + plane; i++) {
                    pixels[i] = (pixels[i] - shift) * scale;
                }
            }
        }
    }

    /** Writes {@value #FILE_NAME}'s JSON to {@code file}, through a temporary file and a rename. */
    @Override
    public String fileName() {
        return FILE_NAME;
    }

    /** The classes: the size of a classifier's output layer. */
    @Override
    public int outputSize() {
        return classNames.size();
    }

    @Override
    public void save(Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        ArrayNode meanNode = root.putArray("mean");
        Arrays.stream(mean).forEach(meanNode::add);
        ArrayNode stdNode = root.putArray("std");
        Arrays.stream(std).forEach(stdNode::add);
        root.put("height", height);
        root.put("width", width);
        root.put("channels", channels);
        ArrayNode names = root.putArray("class_names");
        classNames.forEach(names::add);
        Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(temporary, JSON.writeValueAsString(root) + "\n");
        Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Reads a file {@link #save} wrote.
     *
     * @throws IllegalArgumentException naming the file and the key when it is not such a file
     */
    public static ImageStatistics load(Path file) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + " is not JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject() || !FORMAT.equals(root.path("format").asText())) {
            throw new IllegalArgumentException(file + " is not image statistics: its \"format\" must be \"" + FORMAT
                    + "\"");
        }
        try {
            return new ImageStatistics(numbers(file, root, "mean"), numbers(file, root, "std"),
                    integer(file, root, "height"), integer(file, root, "width"), integer(file, root, "channels"),
                    strings(file, root, "class_names"));
        } catch (IllegalArgumentException e) {
            throw e.getMessage().startsWith(file.toString()) ? e : new IllegalArgumentException(file + ": "
                    + e.getMessage(), e);
        }
    }

    private static double[] numbers(Path file, JsonNode root, String key) {
        JsonNode node = array(file, root, key);
        double[] values = new double[node.size()];
        for (int i = 0; i < values.length; i++) {
            if (!node.get(i).isNumber()) {
                throw new IllegalArgumentException(file + ": \"" + key + "\"[" + i + "] is not a number");
            }
            values[i] = node.get(i).doubleValue();
        }
        return values;
    }

    private static List<String> strings(Path file, JsonNode root, String key) {
        JsonNode node = array(file, root, key);
        List<String> values = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            if (!node.get(i).isTextual()) {
                throw new IllegalArgumentException(file + ": \"" + key + "\"[" + i + "] is not a string");
            }
            values.add(node.get(i).textValue());
        }
        return values;
    }

    private static JsonNode array(Path file, JsonNode root, String key) {
        JsonNode node = root.get(key);
        if (node == null || !node.isArray()) {
            throw new IllegalArgumentException(file + ": \"" + key + "\" is missing or not an array");
        }
        return node;
    }

    private static int integer(Path file, JsonNode root, String key) {
        JsonNode node = root.get(key);
        if (node == null || !node.canConvertToInt() || !node.isIntegralNumber()) {
            throw new IllegalArgumentException(file + ": \"" + key + "\" is missing or not an integer");
        }
        return node.intValue();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof ImageStatistics that && Arrays.equals(mean, that.mean) && Arrays.equals(std, that.std)
                && height == that.height && width == that.width && channels == that.channels
                && classNames.equals(that.classNames);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(mean) + Arrays.hashCode(std) + 7 * classNames.hashCode() + height * width
                * channels;
    }

    @Override
    public String toString() {
        return "ImageStatistics[mean " + Arrays.toString(mean) + ", std " + Arrays.toString(std) + ", " + channels
                + " × " + height + " × " + width + ", classes " + classNames + "]";
    }
}

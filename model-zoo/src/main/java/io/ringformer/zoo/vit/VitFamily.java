package io.ringformer.zoo.vit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.attention.AttentionTypes;
import io.ringformer.zoo.data.TextDataset.Rows;
import io.ringformer.zoo.family.Artifact;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.ConfigKey;
import io.ringformer.zoo.family.ConfigKey.Type;
import io.ringformer.zoo.family.DataSource;
import io.ringformer.zoo.family.Export;
import io.ringformer.zoo.family.Model;
import io.ringformer.zoo.family.ModelFamily;
import io.ringformer.zoo.family.Settings;
import io.ringformer.zoo.family.Split;
import io.ringformer.zoo.family.TransformerKeys;
import io.ringformer.zoo.vision.ImageDataset;
import io.ringformer.zoo.vision.ImageStatistics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * ViT ({@code model.family: vit}): an image classifier of Fashion-MNIST or MNIST digits. Its artifact is the
 * training split's pixel statistics and the class names ({@code image_stats.json}); a batch is normalised images
 * ({@value Vit#PIXELS} [B, 784]) and their labels ({@value Vit#LABELS} [B, 1]), drawn per (seed, step, row) and
 * optionally shifted (random crop with padding). Evaluation goes through the whole test split in order.
 */
public final class VitFamily implements ModelFamily {

    /** Datasets read once per process: every trainer and evaluation of a run shares them. */
    private static final Map<String, ImageDataset> LOADED = new ConcurrentHashMap<>();

    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public String name() {
        return "vit";
    }

    @Override
    public String description() {
        return "Vision Transformer classifying 28 × 28 images (Fashion-MNIST, MNIST)";
    }

    @Override
    public List<ConfigKey> keys() {
        List<ConfigKey> keys = new ArrayList<>(TransformerKeys.of(4, 4, 64));
        keys.add(new ConfigKey("model.patch_size", Type.INT, 4, "side of a square patch; it must divide 28 (4 or 7)",
                1, 28));
        keys.add(new ConfigKey("data.dataset", Type.STRING, "fashion-mnist", "fashion-mnist | mnist",
                List.of("fashion-mnist", "mnist")));
        keys.add(new ConfigKey("data.path", Type.STRING, "",
                "directory of the dataset's idx files; empty: " + ImageDataset.FASHION_MNIST_DIR + " or "
                        + ImageDataset.MNIST_DIR + " (launch/fetch-data.sh installs both)"));
        keys.add(new ConfigKey("data.crop_padding", Type.INT, 0,
                "augmentation: pad by this many pixels and crop 28 × 28 at a random offset; 0 turns it off", 0, 8));
        keys.add(new ConfigKey("data.flip", Type.BOOLEAN, false,
                "augmentation: mirror each training image left to right with probability ½ (Fashion-MNIST, not digits)"));
        return keys;
    }

    @Override
    public void check(Settings config) {
        TransformerKeys.checkHeads(config);
        modelConfig(config, 10);
    }

    /** The model shape a config asks for, over {@code classes} classes. */
    public static Vit.Config modelConfig(Settings config, int classes) {
        return new Vit.Config(ImageDataset.HEIGHT, ImageDataset.WIDTH, config.getInt("model.patch_size"), classes,
                config.getInt("model.n_layer"), config.getInt("model.n_head"), config.getInt("model.n_embd"),
                config.getDouble("model.dropout"), AttentionTypes.configured(config));
    }

    /** The directory of the dataset a config names. */
    static Path directory(Settings config) {
        String path = config.getString("data.path");
        boolean fashion = config.getString("data.dataset").equals("fashion-mnist");
        return path.isEmpty() ? (fashion ? ImageDataset.FASHION_MNIST_DIR : ImageDataset.MNIST_DIR) : Path.of(path);
    }

    /** The dataset a config names, read once. */
    static ImageDataset dataset(Settings config) {
        String name = config.getString("data.dataset");
        boolean fashion = name.equals("fashion-mnist");
        Path dir = directory(config);
        return LOADED.computeIfAbsent(name + "@" + dir.toAbsolutePath(), key -> {
            try {
                return fashion ? ImageDataset.fashionMnist(dir) : ImageDataset.mnist(dir);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read " + name + " from " + dir + ": " + e.getMessage()
                        + " (run launch/fetch-data.sh, or --set data.path=DIR)");
            }
        });
    }

    @Override
    public Artifact fitArtifact(Settings config) {
        return ImageStatistics.of(dataset(config));
    }

    @Override
    public String artifactFile() {
        return ImageStatistics.FILE_NAME;
    }

    @Override
    public Artifact loadArtifact(Path file) throws IOException {
        return ImageStatistics.load(file);
    }

    @Override
    public DataSource data(Settings config, Artifact artifact) {
        ImageDataset dataset = dataset(config);
        ImageStatistics statistics = (ImageStatistics) artifact;
        if (!statistics.classNames().equals(dataset.classNames())) {
            throw new IllegalArgumentException("the image statistics are of classes " + statistics.classNames()
                    + ", but data.dataset " + dataset.name() + " has " + dataset.classNames());
        }
        return new Images(dataset, directory(config), statistics, config.getInt("data.crop_padding"),
                config.getBoolean("data.flip"));
    }

    @Override
    public Model build(Settings config, Artifact artifact, long seed, boolean training, MixedPrecision precision) {
        return Vit.build(modelConfig(config, artifact.outputSize()), seed, training, precision);
    }

    /**
     * Hugging Face's ViTForImageClassification, exactly: its ViT is pre-LayerNorm like ours ({@code layernorm_before}
     * and {@code layernorm_after} in each layer, {@code vit.layernorm} at the end), with a learned [CLS] token and
     * learned positions added after it is put in front, and a linear classifier on the [CLS] row; GELU is the exact
     * one, LayerNorm's ε as for GPT ({@link io.ringformer.zoo.gpt.GptFamily#export}).
     *
     * <p>Layout: nn.Linear weights [out, in], so ours [in, out] are transposed; our fused {@code w_qkv} [d, 3d]
     * (q | k | v, heads contiguous in each) becomes query, key and value [d, d]. The patch embedding is a
     * convolution there, kernel [d, channels, P, P] with stride P; ours is a GEMM on each patch's P² pixels in row-major
     * order ({@link Vit#patchOrder}), [P², d], so its transpose [d, P²] reshaped to [d, 1, P, P] is the same kernel,
     * and both number the patches row by row. [CLS] [1, d] and the positions [T, d] gain Hugging Face's leading batch
     * axis. What it does not carry: our inputs are normalised by the training split's mean and std
     * ({@code image_stats.json}, written beside), which a ViTImageProcessor must be given ({@code do_resize} off,
     * {@code rescale_factor} 1/255, {@code image_mean} and {@code image_std} from that file).
     */
    @Override
    public Export export(Settings config, Artifact artifact) {
        if (!config.getString("attention.type").equals("full")) {
            throw new IllegalArgumentException("ViT's layout has full attention only; this model uses "
                    + "attention.type " + config.getString("attention.type"));
        }
        ImageStatistics statistics = (ImageStatistics) artifact;
        Vit.Config shape = modelConfig(config, artifact.outputSize());
        int d = shape.embedding();
        int p = shape.patch();
        List<Export.Tensor> tensors = new ArrayList<>();
        tensors.add(Export.Tensor.same("vit.embeddings.cls_token", "cls").reshaped(1, 1, d));                // [1, 1, d]
        tensors.add(Export.Tensor.same("vit.embeddings.position_embeddings", "wpe")
                .reshaped(1, shape.sequence(), d));                                                         // [1, T, d]
        tensors.add(Export.Tensor.transposed("vit.embeddings.patch_embeddings.projection.weight", "patch/w_embed")
                .reshaped(d, statistics.channels(), p, p));                                                 // [d, 1, P, P]
        tensors.add(Export.Tensor.same("vit.embeddings.patch_embeddings.projection.bias", "patch/b_embed"));  // [d]
        for (int layer = 0; layer < shape.layers(); layer++) {
            String ours = "h" + layer + "/";
            String theirs = "vit.encoder.layer." + layer + ".";
            Export.layerNorm(tensors, theirs + "layernorm_before", ours + "ln_1");
            Export.queryKeyValue(tensors, theirs + "attention.attention.", ours + "attn", d);
            Export.linear(tensors, theirs + "attention.output.dense", ours + "attn/w_out", ours + "attn/b_out");
            Export.layerNorm(tensors, theirs + "layernorm_after", ours + "ln_2");
            Export.linear(tensors, theirs + "intermediate.dense", ours + "mlp/w_fc", ours + "mlp/b_fc");   // [4d, d]
            Export.linear(tensors, theirs + "output.dense", ours + "mlp/w_proj", ours + "mlp/b_proj");     // [d, 4d]
        }
        Export.layerNorm(tensors, "vit.layernorm", "ln_f");
        Export.linear(tensors, "classifier", "head/w_cls", "head/b_cls");                                 // [C, d]

        ObjectNode json = JSON.createObjectNode();
        json.putArray("architectures").add("ViTForImageClassification");
        json.put("model_type", "vit");
        json.put("image_size", shape.height());
        json.put("patch_size", p);
        json.put("num_channels", statistics.channels());
        json.put("hidden_size", d);
        json.put("num_hidden_layers", shape.layers());
        json.put("num_attention_heads", shape.heads());
        json.put("intermediate_size", 4 * d);
        json.put("hidden_act", "gelu");
        json.put("layer_norm_eps", 1e-12);
        json.put("qkv_bias", true);
        json.put("hidden_dropout_prob", 0.0);
        json.put("attention_probs_dropout_prob", 0.0);
        ObjectNode id2label = json.putObject("id2label");
        ObjectNode label2id = json.putObject("label2id");
        for (int c = 0; c < statistics.classNames().size(); c++) {
            id2label.put(Integer.toString(c), statistics.classNames().get(c));
            label2id.put(statistics.classNames().get(c), c);
        }
        json.put("torch_dtype", "float32");
        try {
            return new Export("Hugging Face ViTForImageClassification", tensors,
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n");
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);       // a tree of strings and numbers always serialises
        }
    }



    /** Per block and patch the GPT block's 22·d values and H·T attention probabilities, and the patch rows. */
    @Override
    public Footprint footprint(Settings config, Artifact artifact) {
        Vit.Config vit = modelConfig(config, artifact.outputSize());
        double d = vit.embedding();
        double t = vit.sequence();
        double p2 = (double) vit.patch() * vit.patch();
        double parameters = p2 * d + d + d + t * d + vit.layers() * (12 * d * d + 13 * d) + 2 * d
                + d * vit.classes() + vit.classes();
        return new Footprint(parameters, t * (vit.layers() * (22 * d + vit.heads() * t) + 2 * d) + 2.0 * vit.classes());
    }

    /** Normalised images and labels; training rows drawn per (seed, step, row), evaluation in order. */
    private record Images(ImageDataset dataset, Path directory, ImageStatistics statistics, int cropPadding,
                          boolean flip)
            implements DataSource {

        @Override
        public List<Batch.Field> layout() {
            return List.of(Batch.Field.floats(Vit.PIXELS, ImageDataset.PIXELS), Batch.Field.ints(Vit.LABELS, 1));
        }

        @Override
        public void fill(long seed, long step, Batch into) {
            dataset.fill(ImageDataset.Split.TRAIN, seed, step, new Rows(0, into.rows()), cropPadding, flip,
                    into.floats(Vit.PIXELS), into.ints(Vit.LABELS));
            statistics.normalize(into.floats(Vit.PIXELS));
        }

        /** The training split: {@code iterations} sampled batches. The test split: all of it, in order. */
        @Override
        public int evaluationBatches(Split split, int rows, int iterations) {
            return split == Split.TRAIN ? iterations
                    : (dataset.size(ImageDataset.Split.TEST) + rows - 1) / rows;
        }

        @Override
        public void fillEvaluation(Split split, long seed, int index, Batch into) {
            float[] pixels = into.floats(Vit.PIXELS);
            int[] labels = into.ints(Vit.LABELS);
            if (split == Split.TRAIN) {
                dataset.fill(ImageDataset.Split.TRAIN, seed, index, new Rows(0, into.rows()), 0, pixels, labels);
                into.setFilled(into.rows());
            } else {
                int first = index * into.rows();
                int count = Math.min(into.rows(), dataset.size(ImageDataset.Split.TEST) - first);
                java.util.Arrays.fill(pixels, 0f);
                dataset.fillOrdered(ImageDataset.Split.TEST, first, count, pixels, labels);
                into.setFilled(count);
            }
            statistics.normalize(pixels);
        }

        @Override
        public List<Path> files() {
            try (var listing = Files.list(directory)) {   // the idx files (a licence or readme beside them too)
                return listing.filter(Files::isRegularFile).sorted().toList();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public int itemsPerRow() {
            return 1;
        }

        @Override
        public String itemName() {
            return "images";
        }
    }
}

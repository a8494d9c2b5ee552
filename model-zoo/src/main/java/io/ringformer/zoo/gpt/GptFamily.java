package io.ringformer.zoo.gpt;

import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.attention.AttentionTypes;
import io.ringformer.zoo.attention.PositionType;
import io.ringformer.zoo.data.TextDataset;
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
import io.ringformer.zoo.text.CharTokenizer;
import io.ringformer.zoo.text.TextFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * GPT ({@code model.family: gpt}): a character-level language model of a text file. Its artifact is the
 * {@link CharTokenizer} fitted on the whole text; a batch is random windows of {@code model.block_size} + 1
 * characters ({@link TextDataset}), as token and target arrays.
 */
public final class GptFamily implements ModelFamily {

    @Override
    public String name() {
        return "gpt";
    }

    @Override
    public String description() {
        return "decoder-only character language model (GPT-2 shape) on a text file";
    }

    @Override
    public List<ConfigKey> keys() {
        List<ConfigKey> keys = new ArrayList<>(TransformerKeys.of(4, 4, 128));
        keys.add(new ConfigKey("model.block_size", Type.INT, 64, "context length in tokens", 1, 65536));
        keys.add(new ConfigKey("model.positions", Type.STRING, "learned", "learned | sinusoidal | rope | alibi",
                List.of("learned", "sinusoidal", "rope", "alibi")));
        keys.add(new ConfigKey("model.tie_embeddings", Type.BOOLEAN, true,
                "LM head tied to the token embedding (GPT-2), or a matrix of its own"));
        keys.add(new ConfigKey("model.init", Type.STRING, "gpt2", "initial parameters: gpt2 (N(0, 0.02), scaled "
                + "residual projections) | pytorch (PyTorch's defaults: U(±1/√fan_in) linears, N(0, 1) embeddings; "
                + "pair it with an untied head)", List.of("gpt2", "pytorch")));
        keys.add(new ConfigKey("data.path", Type.STRING, "data/moby-dick.txt",
                "UTF-8 text file, relative to the working directory"));
        keys.add(new ConfigKey("data.train_fraction", Type.DOUBLE, 0.9, "leading share of the text used for training",
                0.01, 0.99));
        return keys;
    }

    @Override
    public void check(Settings config) {
        TransformerKeys.checkHeads(config);
    }

    /** The model shape a config asks for, over {@code vocabSize} tokens. */
    public static Gpt.Config modelConfig(Settings config, int vocabSize) {
        return new Gpt.Config(vocabSize, config.getInt("model.block_size"), config.getInt("model.n_layer"),
                config.getInt("model.n_head"), config.getInt("model.n_embd"), config.getDouble("model.dropout"),
                PositionType.parse(config.getString("model.positions")), config.getBoolean("model.tie_embeddings"),
                AttentionTypes.configured(config),
                Gpt.Init.valueOf(config.getString("model.init").toUpperCase(Locale.ROOT)));
    }

    /**
     * Hugging Face's GPT2LMHeadModel names (which nanoGPT's {@code from_pretrained} reads too). Its Conv1D weights
     * are [in, out] like ours, so nothing is transposed; q, k and v sit side by side in {@code c_attn} with the heads
     * contiguous inside each, as here. GELU is the exact one ({@code "gelu"}, not GPT-2's tanh {@code "gelu_new"}),
     * and LayerNorm's ε is what ringformer uses (the graph adds none, the fused step 1e-12; PyTorch's default 1e-5
     * moved a tiny model's logits by 2.4e-5). Only learned positions and full attention have a GPT-2 form.
     */
    @Override
    public Export export(Settings config, Artifact artifact) {
        if (!config.getString("model.positions").equals("learned")) {
            throw new IllegalArgumentException("GPT-2's layout has learned positions only; this model uses "
                    + "model.positions " + config.getString("model.positions"));
        }
        if (!config.getString("attention.type").equals("full")) {
            throw new IllegalArgumentException("GPT-2's layout has full attention only; this model uses "
                    + "attention.type " + config.getString("attention.type"));
        }
        Gpt.Config shape = modelConfig(config, artifact.outputSize());
        List<Export.Tensor> tensors = new ArrayList<>();
        tensors.add(Export.Tensor.same("transformer.wte.weight", "wte"));                     // [V, d]
        tensors.add(Export.Tensor.same("transformer.wpe.weight", "wpe"));                     // [T, d]
        for (int layer = 0; layer < shape.layers(); layer++) {
            String ours = "h" + layer + "/";
            String theirs = "transformer.h." + layer + ".";
            tensors.add(Export.Tensor.same(theirs + "ln_1.weight", ours + "ln_1/gain"));
            tensors.add(Export.Tensor.same(theirs + "ln_1.bias", ours + "ln_1/bias"));
            tensors.add(Export.Tensor.same(theirs + "attn.c_attn.weight", ours + "attn/w_qkv")); // [d, 3d]
            tensors.add(Export.Tensor.same(theirs + "attn.c_attn.bias", ours + "attn/b_qkv"));
            tensors.add(Export.Tensor.same(theirs + "attn.c_proj.weight", ours + "attn/w_out")); // [d, d]
            tensors.add(Export.Tensor.same(theirs + "attn.c_proj.bias", ours + "attn/b_out"));
            tensors.add(Export.Tensor.same(theirs + "ln_2.weight", ours + "ln_2/gain"));
            tensors.add(Export.Tensor.same(theirs + "ln_2.bias", ours + "ln_2/bias"));
            tensors.add(Export.Tensor.same(theirs + "mlp.c_fc.weight", ours + "mlp/w_fc"));   // [d, 4d]
            tensors.add(Export.Tensor.same(theirs + "mlp.c_fc.bias", ours + "mlp/b_fc"));
            tensors.add(Export.Tensor.same(theirs + "mlp.c_proj.weight", ours + "mlp/w_proj")); // [4d, d]
            tensors.add(Export.Tensor.same(theirs + "mlp.c_proj.bias", ours + "mlp/b_proj"));
        }
        tensors.add(Export.Tensor.same("transformer.ln_f.weight", "ln_f/gain"));
        tensors.add(Export.Tensor.same("transformer.ln_f.bias", "ln_f/bias"));
        if (!shape.tiedHead()) {
            tensors.add(Export.Tensor.same("lm_head.weight", "lm_head"));                     // [V, d]
        }
        String json = String.format(Locale.ROOT, """
                {
                  "architectures": ["GPT2LMHeadModel"],
                  "model_type": "gpt2",
                  "vocab_size": %d,
                  "n_positions": %d,
                  "n_ctx": %d,
                  "n_embd": %d,
                  "n_layer": %d,
                  "n_head": %d,
                  "n_inner": %d,
                  "activation_function": "gelu",
                  "layer_norm_epsilon": 1e-12,
                  "tie_word_embeddings": %b,
                  "resid_pdrop": 0.0,
                  "embd_pdrop": 0.0,
                  "attn_pdrop": 0.0,
                  "torch_dtype": "float32"
                }
                """, shape.vocabSize(), shape.blockSize(), shape.blockSize(), shape.width(), shape.layers(),
                shape.heads(), 4 * shape.width(), shape.tiedHead());
        return new Export("Hugging Face GPT2LMHeadModel", tensors, json);
    }

    @Override
    public Artifact fitArtifact(Settings config) {
        return CharTokenizer.fit(TextFiles.read(Path.of(config.getString("data.path"))));
    }

    @Override
    public String artifactFile() {
        return CharTokenizer.FILE;
    }

    @Override
    public Artifact loadArtifact(Path file) throws IOException {
        return CharTokenizer.load(file);
    }

    /**
     * The text as windows, refused when a model cannot train on it: fewer than two distinct characters (nothing
     * to predict), or a split shorter than one window of {@code model.block_size} + 1 tokens.
     */
    @Override
    public DataSource data(Settings config, Artifact artifact) {
        CharTokenizer tokenizer = (CharTokenizer) artifact;
        Path path = Path.of(config.getString("data.path"));
        String text = TextFiles.read(path);
        if (tokenizer.vocabSize() < 2) {
            throw new IllegalArgumentException("data.path " + path + " holds a single distinct character: a language "
                    + "model needs a text of at least two (and, to learn anything, a real text)");
        }
        TextDataset data;
        try {
            data = TextDataset.of(text, tokenizer, config.getDouble("data.train_fraction"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("data: " + e.getMessage());
        }
        int blockSize = config.getInt("model.block_size");
        for (TextDataset.Split split : TextDataset.Split.values()) {
            if (data.tokens(split) < blockSize + 1) {
                throw new IllegalArgumentException("data.path " + path + " is too short: its "
                        + split.name().toLowerCase(Locale.ROOT) + " split has " + data.tokens(split) + " characters, "
                        + "and one window of model.block_size + 1 needs " + (blockSize + 1) + "; use a longer text, "
                        + "or lower model.block_size (or change data.train_fraction)");
            }
        }
        return new Windows(data, blockSize, path);
    }

    @Override
    public Model build(Settings config, Artifact artifact, long seed, boolean training, MixedPrecision precision) {
        return Gpt.build(modelConfig(config, artifact.outputSize()), DataType.FLOAT, seed, training, precision);
    }

    /**
     * Per block and token about 22·d values (LayerNorm inputs and outputs, q/k/v, merged heads, the MLP's 4·d pre-
     * and post-GELU and GELU's slope) plus n_head·T attention probabilities; per token the logits and their
     * gradient (2·V).
     */
    @Override
    public Footprint footprint(Settings config, Artifact artifact) {
        double d = config.getInt("model.n_embd");
        double layers = config.getInt("model.n_layer");
        double heads = config.getInt("model.n_head");
        double t = config.getInt("model.block_size");
        double v = artifact.outputSize();
        boolean learned = config.getString("model.positions").equals("learned");
        double head = config.getBoolean("model.tie_embeddings") ? 0 : v * d;
        double parameters = v * d + head + (learned ? t * d : 0) + layers * (12 * d * d + 13 * d) + 2 * d;
        return new Footprint(parameters, t * (layers * (22 * d + heads * t) + 2.0 * v));
    }

    /**
     * The text's first {@code model.block_size} characters (a longer text is cut there: the model reads no more),
     * right-padded; causal attention keeps the padding out of every real position.
     */
    @Override
    public Optional<TextRow> textRow(Settings config, Artifact artifact, String text) {
        CharTokenizer tokenizer = (CharTokenizer) artifact;
        int blockSize = config.getInt("model.block_size");
        int[] ids = tokenizer.encode(text.substring(0, Math.min(text.length(), blockSize)));
        if (ids.length == 0) {
            throw new IllegalArgumentException("the text is empty");
        }
        Batch batch = new Batch(List.of(Batch.Field.ints(Gpt.TOKENS, blockSize),
                Batch.Field.ints(Gpt.TARGETS, blockSize)), 1);
        System.arraycopy(ids, 0, batch.ints(Gpt.TOKENS), 0, ids.length);
        Arrays.fill(batch.ints(Gpt.TARGETS), -1);
        List<String> labels = new ArrayList<>();
        for (int id : ids) {
            labels.add(tokenizer.decode(new int[] {id}));
        }
        return Optional.of(new TextRow(batch, labels));
    }

    /** Random windows of the text: tokens [B, T] and the next characters, targets [B, T]. */
    private record Windows(TextDataset data, int blockSize, Path path) implements DataSource {

        @Override
        public List<Batch.Field> layout() {
            return List.of(Batch.Field.ints(Gpt.TOKENS, blockSize), Batch.Field.ints(Gpt.TARGETS, blockSize));
        }

        @Override
        public void fill(long seed, long step, Batch into) {
            data.fill(TextDataset.Split.TRAIN, seed, step, into.rows(), blockSize, into.ints(Gpt.TOKENS),
                    into.ints(Gpt.TARGETS));
        }

        @Override
        public int evaluationBatches(Split split, int rows, int iterations) {
            return iterations;
        }

        @Override
        public void fillEvaluation(Split split, long seed, int index, Batch into) {
            data.fill(split == Split.TRAIN ? TextDataset.Split.TRAIN : TextDataset.Split.VAL, seed, index,
                    into.rows(), blockSize, into.ints(Gpt.TOKENS), into.ints(Gpt.TARGETS));
            into.setFilled(into.rows());
        }

        @Override
        public List<Path> files() {
            return List.of(path);
        }

        @Override
        public int itemsPerRow() {
            return blockSize;
        }
    }
}

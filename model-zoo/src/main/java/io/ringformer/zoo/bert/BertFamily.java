package io.ringformer.zoo.bert;

import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.attention.AttentionTypes;
import io.ringformer.zoo.family.Artifact;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.ConfigKey;
import io.ringformer.zoo.family.ConfigKey.Type;
import io.ringformer.zoo.family.DataSource;
import io.ringformer.zoo.family.Export;
import io.ringformer.zoo.family.Model;
import io.ringformer.zoo.family.ModelFamily;
import io.ringformer.zoo.family.Settings;
import io.ringformer.zoo.family.TransformerKeys;
import io.ringformer.zoo.text.TextFiles;
import io.ringformer.zoo.text.WordPieceTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * BERT ({@code model.family: bert}): an encoder pre-trained with the masked language model and next sentence
 * prediction on the sentences of a text file. Its artifact is a WordPiece {@code tokenizer.json}: trained on the
 * train split's sentences to {@code model.vocab_size} tokens, or read from {@code data.tokenizer} (one
 * {@code ringformer tokenizer train} wrote). A batch is sentence pairs ({@link SentencePairs}); the model is
 * {@link Bert}; a trained one fills in {@code [MASK]}s ({@link MaskFiller}, {@code ringformer fill-mask}).
 */
public final class BertFamily implements ModelFamily {

    @Override
    public String name() {
        return "bert";
    }

    @Override
    public String description() {
        return "bidirectional encoder (BERT) pre-trained by masked language model and next sentence prediction "
                + "on a text file's sentences";
    }

    @Override
    public List<ConfigKey> keys() {
        List<ConfigKey> keys = new ArrayList<>(TransformerKeys.of(2, 4, 128));
        keys.add(new ConfigKey("model.seq_len", Type.INT, 64,
                "tokens per example: [CLS] A [SEP] B [SEP], truncated and padded to this", 5, 65536));
        keys.add(new ConfigKey("model.vocab_size", Type.INT, 2000,
                "WordPiece vocabulary trained on the train split (ignored when data.tokenizer names a file)",
                16, 1_000_000));
        keys.add(new ConfigKey("data.path", Type.STRING, "data/moby-dick.txt",
                "UTF-8 text file, relative to the working directory"));
        keys.add(new ConfigKey("data.tokenizer", Type.STRING, "",
                "a tokenizer.json (from ringformer tokenizer train); empty: train one on the train split"));
        keys.add(new ConfigKey("data.train_fraction", Type.DOUBLE, 0.9,
                "leading share of the text's sentences used for training", 0.01, 0.99));
        keys.add(new ConfigKey("data.mask_prob", Type.DOUBLE, 0.15,
                "share of each example's tokens the masked language model predicts", 0.01, 0.9));
        return keys;
    }

    @Override
    public void check(Settings config) {
        TransformerKeys.checkHeads(config);
        String tokenizer = config.getString("data.tokenizer");
        if (!tokenizer.isEmpty() && !Files.isRegularFile(Path.of(tokenizer))) {
            throw new IllegalArgumentException("data.tokenizer " + tokenizer + ": no such file (write one with "
                    + "ringformer tokenizer train, or leave data.tokenizer empty to train one)");
        }
    }

    /** The model shape a config asks for, over {@code vocabSize} tokens. */
    public static Bert.Config modelConfig(Settings config, int vocabSize) {
        return new Bert.Config(vocabSize, config.getInt("model.seq_len"), config.getInt("model.n_layer"),
                config.getInt("model.n_head"), config.getInt("model.n_embd"), config.getDouble("model.dropout"),
                AttentionTypes.configured(config));
    }

    /**
     * Hugging Face names for every tensor, in the layout PyTorch's modules hold them — but no {@code transformers}
     * class computes this model, and the config.json says so ({@code model_type} is not one it knows, so
     * {@code from_pretrained} refuses it rather than run something else).
     *
     * <p>Why: ringformer's BERT is pre-LayerNorm ({@link Bert}: x + attn(LN(x)), x + mlp(LN(x)), a final LayerNorm),
     * and Hugging Face's BertModel is post-LayerNorm (LN(x + attn(x))): the same weights in BertForPreTraining give
     * another function. Megatron-BERT (MegatronBertForPreTraining) is pre-LN with these LayerNorms in these places,
     * but has no LayerNorm after the embeddings, which this model has. So the names are BERT's
     * ({@code bert.embeddings.*}, {@code attention.self.query}, {@code intermediate.dense}, {@code cls.predictions.*},
     * {@code bert.pooler.dense}, {@code cls.seq_relationship}) wherever a tensor does what BERT's does, and
     * Megatron-BERT's for the three pre-LN LayerNorms ({@code attention.ln} before attention, {@code ln} before the
     * MLP, {@code bert.encoder.ln} at the end). {@code launch/export/torch_bert.py} is the model, in PyTorch.
     *
     * <p>Layout: nn.Linear weights [out, in], so ours [in, out] are transposed; our fused {@code w_qkv} [d, 3d]
     * (q | k | v, heads contiguous in each) becomes query, key and value [d, d]. The MLM decoder is tied to the word
     * embeddings (not written again, as Hugging Face saves a tied weight) with its bias {@code cls.predictions.bias}.
     * GELU is the exact one; LayerNorm's ε as for GPT ({@link io.ringformer.zoo.gpt.GptFamily#export}). Attention
     * must be full: the other types compute something else.
     */
    @Override
    public Export export(Settings config, Artifact artifact) {
        if (!config.getString("attention.type").equals("full")) {
            throw new IllegalArgumentException("BERT's layout has full attention only; this model uses "
                    + "attention.type " + config.getString("attention.type"));
        }
        Bert.Config shape = modelConfig(config, artifact.outputSize());
        int d = shape.width();
        List<Export.Tensor> tensors = new ArrayList<>();
        tensors.add(Export.Tensor.same("bert.embeddings.word_embeddings.weight", "wte"));        // [V, d]
        tensors.add(Export.Tensor.same("bert.embeddings.position_embeddings.weight", "wpe"));    // [T, d]
        tensors.add(Export.Tensor.same("bert.embeddings.token_type_embeddings.weight", "wse"));  // [2, d]
        Export.layerNorm(tensors, "bert.embeddings.LayerNorm", "ln_emb");
        for (int layer = 0; layer < shape.layers(); layer++) {
            String ours = "h" + layer + "/";
            String theirs = "bert.encoder.layer." + layer + ".";
            Export.layerNorm(tensors, theirs + "attention.ln", ours + "ln_1");
            Export.queryKeyValue(tensors, theirs + "attention.self.", ours + "attn", d);
            Export.linear(tensors, theirs + "attention.output.dense", ours + "attn/w_out", ours + "attn/b_out");
            Export.layerNorm(tensors, theirs + "ln", ours + "ln_2");
            Export.linear(tensors, theirs + "intermediate.dense", ours + "mlp/w_fc", ours + "mlp/b_fc");   // [4d, d]
            Export.linear(tensors, theirs + "output.dense", ours + "mlp/w_proj", ours + "mlp/b_proj");     // [d, 4d]
        }
        Export.layerNorm(tensors, "bert.encoder.ln", "ln_f");
        Export.linear(tensors, "bert.pooler.dense", "pooler/w", "pooler/b");                             // [d, d]
        Export.linear(tensors, "cls.predictions.transform.dense", "mlm/w_dense", "mlm/b_dense");         // [d, d]
        Export.layerNorm(tensors, "cls.predictions.transform.LayerNorm", "mlm/ln");
        tensors.add(Export.Tensor.same("cls.predictions.bias", "mlm/bias"));                     // [V]
        Export.linear(tensors, "cls.seq_relationship", "nsp/w", "nsp/b");                                // [2, d]
        String json = String.format(Locale.ROOT, """
                {
                  "model_type": "ringformer-prenorm-bert",
                  "ringformer": {
                    "layer_norm": "pre: x + attn(attention.ln(x)), x + mlp(ln(x)), then bert.encoder.ln",
                    "embedding_layer_norm": true,
                    "mlm_decoder": "tied to bert.embeddings.word_embeddings.weight, bias cls.predictions.bias",
                    "transformers": "no class computes this model: BertForPreTraining is post-LayerNorm, and MegatronBertForPreTraining has no bert.embeddings.LayerNorm",
                    "reference": "launch/export/torch_bert.py"
                  },
                  "vocab_size": %d,
                  "hidden_size": %d,
                  "num_hidden_layers": %d,
                  "num_attention_heads": %d,
                  "intermediate_size": %d,
                  "hidden_act": "gelu",
                  "max_position_embeddings": %d,
                  "type_vocab_size": 2,
                  "layer_norm_eps": 1e-12,
                  "pad_token_id": %d,
                  "tie_word_embeddings": true,
                  "hidden_dropout_prob": 0.0,
                  "attention_probs_dropout_prob": 0.0,
                  "torch_dtype": "float32"
                }
                """, shape.vocabSize(), d, shape.layers(), shape.heads(), 4 * d, shape.seqLen(),
                WordPieceTokenizer.PAD_ID);
        return new Export("BERT pre-LayerNorm (Hugging Face BertForPreTraining names, Megatron-BERT's LayerNorms)",
                tensors, json);
    }



    /** The tokenizer of {@code data.tokenizer}, or one trained on the train split's sentences. */
    @Override
    public Artifact fitArtifact(Settings config) {
        String file = config.getString("data.tokenizer");
        if (!file.isEmpty()) {
            try {
                return WordPieceTokenizer.load(Path.of(file));
            } catch (IOException e) {
                throw new UncheckedIOException("data.tokenizer " + file + ": " + e.getMessage(), e);
            }
        }
        String text = TextFiles.read(Path.of(config.getString("data.path")));
        try {
            return WordPieceTokenizer.train(
                    SentencePairs.trainText(text, config.getDouble("data.train_fraction")),
                    config.getInt("model.vocab_size"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("model.vocab_size " + config.getInt("model.vocab_size") + ": "
                    + e.getMessage());
        }
    }

    @Override
    public String artifactFile() {
        return WordPieceTokenizer.FILE;
    }

    @Override
    public Artifact loadArtifact(Path file) throws IOException {
        return WordPieceTokenizer.load(file);
    }

    @Override
    public DataSource data(Settings config, Artifact artifact) {
        if (!(artifact instanceof WordPieceTokenizer tokenizer)) {
            throw new IllegalArgumentException("bert reads its text with a WordPiece tokenizer, not " + artifact);
        }
        Path path = Path.of(config.getString("data.path"));
        return SentencePairs.of(TextFiles.read(path), tokenizer, config.getDouble("data.train_fraction"),
                config.getInt("model.seq_len"), config.getDouble("data.mask_prob"), path);
    }

    @Override
    public Model build(Settings config, Artifact artifact, long seed, boolean training, MixedPrecision precision) {
        return Bert.build(modelConfig(config, artifact.outputSize()), DataType.FLOAT, seed, training, precision);
    }

    /**
     * {@code [CLS]} text {@code [SEP]} as segment A, padded to {@code model.seq_len} and masked; a text longer than
     * the model reads is refused. One MLM target (at the first token) keeps the head's selection non-empty.
     */
    @Override
    public Optional<TextRow> textRow(Settings config, Artifact artifact, String text) {
        WordPieceTokenizer tokenizer = (WordPieceTokenizer) artifact;
        int[] ids = tokenizer.encode(text);
        if (ids.length == 0) {
            throw new IllegalArgumentException("the text has no tokens");
        }
        Batch batch = Bert.sentence(ids, config.getInt("model.seq_len"));
        int[] tokens = batch.ints(Bert.TOKENS);
        batch.ints(Bert.MLM_TARGETS)[1] = ids[0];
        batch.floats(Bert.MLM_WEIGHTS)[1] = 1f;
        List<String> labels = new ArrayList<>();
        for (int t = 0; t < ids.length + 2; t++) {
            labels.add(tokenizer.token(tokens[t]));
        }
        return Optional.of(new TextRow(batch, labels));
    }

    /**
     * Parameters: embeddings (V + T + 2)·d, the blocks as GPT's, three LayerNorms outside them (embeddings, final,
     * MLM transform), the MLM transform's dense layer and output bias, the pooler and the NSP classifier. Per row, as
     * GPT's blocks, plus per token the one-hot input and its gradient (2·V), and per masked token (a share
     * {@code data.mask_prob} of them) the MLM head's logits, log-softmax terms, one-hot target and gradients (5·V).
     */
    @Override
    public Footprint footprint(Settings config, Artifact artifact) {
        double d = config.getInt("model.n_embd");
        double layers = config.getInt("model.n_layer");
        double heads = config.getInt("model.n_head");
        double t = config.getInt("model.seq_len");
        double v = artifact.outputSize();
        double parameters = (v + t + 2) * d + layers * (12 * d * d + 13 * d) + 3 * 2 * d
                + (d * d + d) + v + (d * d + d) + (2 * d + 2);
        double masked = config.getDouble("data.mask_prob");
        return new Footprint(parameters, t * (layers * (22 * d + heads * t) + 2 * v + 5 * masked * v));
    }
}

package io.ringformer.zoo.t5;

import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.family.Artifact;
import io.ringformer.zoo.family.ConfigKey;
import io.ringformer.zoo.family.ConfigKey.Type;
import io.ringformer.zoo.family.DataSource;
import io.ringformer.zoo.family.Model;
import io.ringformer.zoo.family.ModelFamily;
import io.ringformer.zoo.family.Settings;
import io.ringformer.zoo.family.TransformerKeys;
import io.ringformer.zoo.text.SentencePieceTokenizer;
import io.ringformer.zoo.text.TextFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * T5 ({@code model.family: t5}): an encoder–decoder ({@link T5}) with two tasks. {@code data.task: span} pretrains
 * by T5's span corruption on a text ({@link SpanCorruptionText}); {@code data.task: translate} learns English →
 * Spanish on the aligned verses of two Bibles, whole books held out ({@link TranslationPairs}, {@link BibleSplit}).
 * A fine-tuning run starts from a pretraining run's parameters with {@code train.init_from}: T5 has no position
 * table, so its parameters do not depend on the sequence lengths, and the two tasks may differ in them.
 *
 * <p>Its artifact is a SentencePiece-style {@code tokenizer.json} ({@link SentencePieceTokenizer}, 100 sentinels):
 * from {@code data.tokenizer}, or trained on the span text and the training books of both Bibles together, so that
 * one vocabulary serves both tasks and both languages. A trained model translates ({@link Translator},
 * {@code ringformer translate}).
 */
public final class T5Family implements ModelFamily {

    /** The tasks of {@code data.task}. */
    private static final List<String> TASKS = List.of("span", "translate");

    @Override
    public String name() {
        return "t5";
    }

    @Override
    public String description() {
        return "encoder–decoder (T5): span-corruption pretraining on a text, English→Spanish translation of Bible "
                + "verses";
    }

    @Override
    public List<ConfigKey> keys() {
        List<ConfigKey> keys = new ArrayList<>(TransformerKeys.of(2, 4, 128));
        keys.removeIf(key -> key.name().startsWith("attention."));     // T5's attention is full, its bias relative
        keys.add(new ConfigKey("model.ff_width", Type.INT, 512, "inner width of the ReLU feed-forward", 1, 1 << 20));
        keys.add(new ConfigKey("model.source_len", Type.INT, 64,
                "encoder tokens per row, EOS included (the sources are cut to it, padded to it)", 2, 65536));
        keys.add(new ConfigKey("model.target_len", Type.INT, 64,
                "decoder tokens per row for translate (span corruption derives it from source_len)", 2, 65536));
        keys.add(new ConfigKey("model.relative_buckets", Type.INT, 32,
                "relative-position buckets, half exact, half logarithmic (T5: 32)", 4, 1024));
        keys.add(new ConfigKey("model.relative_max_distance", Type.INT, 128,
                "distance from which all positions share the last bucket (T5: 128)", 3, 1 << 20));
        keys.add(new ConfigKey("model.label_smoothing", Type.DOUBLE, 0.0,
                "ε of the loss's label smoothing: the target is (1 − ε)·one-hot + ε/V (0: plain cross-entropy; "
                        + "token_loss stays plain)", 0, 0.99));
        keys.add(new ConfigKey("model.absolute_positions", Type.BOOLEAN, false,
                "also add sinusoids to both stacks' token embeddings, so that cross-attention can align positions "
                        + "(not in T5, whose positions are the relative bias alone)"));
        keys.add(new ConfigKey("model.cross_bias", Type.BOOLEAN, false,
                "give cross-attention a relative position bias of its own, one table for the decoder's layers, so "
                        + "that it can attend by position (not in T5, whose cross-attention has none)"));
        keys.add(new ConfigKey("model.relative_bias_scale", Type.DOUBLE, 1.0,
                "the relative-bias tables enter the scores times this (T5: 1); larger lets Adam move them faster",
                1e-3, 1e3));
        keys.add(new ConfigKey("model.vocab_size", Type.INT, 8000,
                "tokenizer vocabulary, 100 sentinels and <pad> </s> <unk> included (ignored when data.tokenizer "
                        + "names a file)", 256, 1_000_000));
        keys.add(new ConfigKey("data.task", Type.STRING, "span", "span (corruption of data.path) | translate "
                + "(English→Spanish verses of data.bible)", TASKS));
        keys.add(new ConfigKey("data.path", Type.STRING, "data/moby-dick.txt",
                "UTF-8 text for span corruption, and for the tokenizer"));
        keys.add(new ConfigKey("data.bible", Type.STRING, "data/bible",
                "directory of kjv.imp and sparv.imp (launch/fetch-data.sh exports them)"));
        keys.add(new ConfigKey("data.verse_numbers", Type.BOOLEAN, false,
                "translate: source and target both start with the verse's \"chapter:verse \", which the translator "
                        + "learns to copy"));
        keys.add(new ConfigKey("data.tokenizer", Type.STRING, "",
                "a tokenizer.json (ringformer tokenizer train --kind unigram|bpe); empty: train one"));
        keys.add(new ConfigKey("data.tokenizer_kind", Type.STRING, "unigram",
                "the tokenizer trained when data.tokenizer is empty: unigram | bpe", List.of("unigram", "bpe")));
        keys.add(new ConfigKey("data.train_fraction", Type.DOUBLE, 0.9,
                "span: leading share of data.path's tokens used for training", 0.01, 0.99));
        keys.add(new ConfigKey("data.noise_density", Type.DOUBLE, 0.15,
                "span: share of tokens corrupted (T5: 0.15)", 0.01, 0.9));
        keys.add(new ConfigKey("data.mean_span", Type.DOUBLE, 3.0,
                "span: mean length of a corrupted span (T5: 3)", 1, 100));
        return keys;
    }

    @Override
    public void check(Settings config) {
        TransformerKeys.checkHeads(config);
        String tokenizer = config.getString("data.tokenizer");
        if (!tokenizer.isEmpty() && !Files.isRegularFile(Path.of(tokenizer))) {
            throw new IllegalArgumentException("data.tokenizer " + tokenizer + ": no such file (write one with "
                    + "ringformer tokenizer train --kind unigram, or leave data.tokenizer empty to train one)");
        }
        for (Path export : bibleFiles(config)) {
            if (!Files.isRegularFile(export)) {
                throw new IllegalArgumentException("data.bible: " + export + " is missing: run launch/fetch-data.sh "
                        + "(it installs the SWORD modules and exports them with mod2imp)");
            }
        }
    }

    private static List<Path> bibleFiles(Settings config) {
        Path directory = Path.of(config.getString("data.bible"));
        return List.of(directory.resolve(BibleVerses.KJV_FILE.getFileName()),
                directory.resolve(BibleVerses.SPARV_FILE.getFileName()));
    }

    private static List<BibleVerses.Pair> verses(Settings config) {
        List<Path> files = bibleFiles(config);
        return BibleVerses.read(files.get(0), files.get(1));
    }

    private static SpanCorruption corruption(Settings config, SentencePieceTokenizer tokenizer) {
        return new SpanCorruption(config.getDouble("data.noise_density"), config.getDouble("data.mean_span"),
                tokenizer.sentinel(0), tokenizer.sentinelCount(), Seq2SeqBatch.EOS_ID);
    }

    /** The model shape a config asks for, with {@code tokenizer}'s vocabulary. */
    public static T5.Config modelConfig(Settings config, SentencePieceTokenizer tokenizer) {
        int source = config.getInt("model.source_len");
        int target = config.getString("data.task").equals("span")
                ? SpanCorruptionText.decoderLength(source, corruption(config, tokenizer))
                : config.getInt("model.target_len");
        return new T5.Config(tokenizer.vocabSize(), source, target, config.getInt("model.n_layer"),
                config.getInt("model.n_head"), config.getInt("model.n_embd"), config.getInt("model.ff_width"),
                config.getDouble("model.dropout"), config.getInt("model.relative_buckets"),
                config.getInt("model.relative_max_distance"), config.getDouble("model.label_smoothing"),
                config.getBoolean("model.absolute_positions"), config.getBoolean("model.cross_bias"),
                config.getDouble("model.relative_bias_scale"));
    }

    /**
     * The tokenizer of {@code data.tokenizer}, or one trained on data.path's text and the training books of both
     * Bibles (never the validation or test books).
     */
    @Override
    public Artifact fitArtifact(Settings config) {
        String file = config.getString("data.tokenizer");
        if (!file.isEmpty()) {
            return loadTokenizer(Path.of(file));
        }
        List<BibleVerses.Pair> training = BibleSplit.TRAIN.of(verses(config));
        // The verses without their numbers, and the digits and the colon as characters of their own: verse numbers
        // then split into a dozen frequent pieces the translator learns to copy one by one, instead of taking some
        // hundred pieces of the vocabulary ("▁12:1", "▁3:2", …) that each come too rarely to be learnt.
        List<String> texts = List.of(TextFiles.read(Path.of(config.getString("data.path"))),
                training.stream().map(BibleVerses.Pair::english).collect(Collectors.joining("\n")),
                training.stream().map(BibleVerses.Pair::spanish).collect(Collectors.joining("\n")),
                "0 1 2 3 4 5 6 7 8 9 :");
        try {
            return SentencePieceTokenizer.train(SentencePieceTokenizer.Kind.parse(config.getString(
                    "data.tokenizer_kind")), texts, config.getInt("model.vocab_size"),
                    SentencePieceTokenizer.DEFAULT_SENTINELS);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("model.vocab_size " + config.getInt("model.vocab_size") + ": "
                    + e.getMessage());
        }
    }

    private static SentencePieceTokenizer loadTokenizer(Path file) {
        try {
            return SentencePieceTokenizer.load(file);
        } catch (IOException e) {
            throw new UncheckedIOException("data.tokenizer " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String artifactFile() {
        return SentencePieceTokenizer.FILE;
    }

    @Override
    public Artifact loadArtifact(Path file) throws IOException {
        return SentencePieceTokenizer.load(file);
    }

    @Override
    public DataSource data(Settings config, Artifact artifact) {
        SentencePieceTokenizer tokenizer = tokenizer(artifact);
        if (config.getString("data.task").equals("span")) {
            Path path = Path.of(config.getString("data.path"));
            return SpanCorruptionText.of(TextFiles.read(path), tokenizer::encode,
                    config.getDouble("data.train_fraction"), config.getInt("model.source_len"),
                    corruption(config, tokenizer), path);
        }
        List<BibleVerses.Pair> verses = verses(config);
        if (config.getBoolean("data.verse_numbers")) {
            verses = verses.stream().map(Copying::numbered).toList();
        }
        return TranslationPairs.of(verses, tokenizer::encode, config.getInt("model.source_len"),
                config.getInt("model.target_len"), bibleFiles(config));
    }

    static SentencePieceTokenizer tokenizer(Artifact artifact) {
        if (!(artifact instanceof SentencePieceTokenizer tokenizer)) {
            throw new IllegalArgumentException("t5 reads its text with a SentencePiece tokenizer, not " + artifact);
        }
        return tokenizer;
    }

    @Override
    public Model build(Settings config, Artifact artifact, long seed, boolean training, MixedPrecision precision) {
        return T5.build(modelConfig(config, tokenizer(artifact)), DataType.FLOAT, seed, training, precision);
    }

    /**
     * Parameters: the shared embedding V·d, two relative tables, and per layer of each stack the self-attention
     * (4d² + 4d), two or three gains and the feed-forward (2·d·F), the decoder's cross-attention (4d² + 4d) on top.
     * Per row: for each of S and T positions, each layer keeps about a dozen d-wide activations, H·(S or T) scores
     * (and H·S in the decoder's cross-attention) and F for the feed-forward; the head keeps ~4 V-wide rows per target
     * position (logits, log-softmax, one-hot, gradient), and the inputs their one-hots (V each).
     */
    @Override
    public Footprint footprint(Settings config, Artifact artifact) {
        T5.Config shape = modelConfig(config, tokenizer(artifact));
        double d = shape.width();
        double f = shape.ffWidth();
        double h = shape.heads();
        double layers = shape.layers();
        double v = shape.vocabSize();
        double s = shape.sourceLength();
        double t = shape.targetLength();
        double parameters = v * d + 2 * shape.buckets() * h + layers * (2 * (4 * d * d + 4 * d + 2 * d + 2 * d * f)
                + 4 * d * d + 4 * d + d) + 2 * d;
        double perRow = layers * (s * (12 * d + h * s + f) + t * (16 * d + h * (t + s) + f)) + t * 4 * v
                + (s + t) * v;
        return new Footprint(parameters, perRow);
    }
}

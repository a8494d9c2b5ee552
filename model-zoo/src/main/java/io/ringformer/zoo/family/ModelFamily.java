package io.ringformer.zoo.family;

import io.ringformer.zoo.MixedPrecision;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A model family (GPT, BERT, ViT, …): everything the trainer, checkpoints and commands need to know of a kind of
 * model, and nothing of theirs it needs to know. Adding a family is one package in model-zoo plus one line in
 * {@link ModelFamilies}.
 */
public interface ModelFamily {

    /** The value of {@code model.family}: gpt, bert, vit. */
    String name();

    /** A line for the README and {@code --help}. */
    String description();

    /**
     * Its {@code model.*} and {@code data.*} keys with their defaults and ranges (the trainer's own keys —
     * {@code train.*}, {@code optim.*}, … — are shared by every family).
     */
    List<ConfigKey> keys();

    /**
     * Checks what single keys cannot: relations between them, files that must exist.
     *
     * @throws IllegalArgumentException naming the key and the fix
     */
    void check(Settings config);

    /** Fits the preprocessing on the training data (a tokenizer, image statistics). */
    Artifact fitArtifact(Settings config);

    /** The artifact's file name, the same for every run of this family. */
    String artifactFile();

    /** Reads a saved artifact; {@link IllegalArgumentException} or {@link IOException} for a bad one. */
    Artifact loadArtifact(Path file) throws IOException;

    /** The data, preprocessed by {@code artifact}; {@link IllegalArgumentException} names what is wrong with it. */
    DataSource data(Settings config, Artifact artifact);

    /**
     * Builds the model with parameters initialised from {@code seed}.
     *
     * @param training adds dropout when the config asks for it; an inference graph has none
     */
    Model build(Settings config, Artifact artifact, long seed, boolean training, MixedPrecision precision);

    /**
     * What one replica holds, for the memory check before anything is built: its parameters, and the values its
     * activations keep per row of a batch for the backward pass.
     */
    Footprint footprint(Settings config, Artifact artifact);

    record Footprint(double parameters, double activationValuesPerRow) {}

    /**
     * A text as the one row of a batch the model reads, for looking at its attention ({@code attention-map}), with
     * a label for each of the first {@code labels.size()} positions (the rest is padding). Empty for a family
     * that reads no text.
     *
     * @throws IllegalArgumentException when the text is empty or the tokenizer cannot read it
     */
    default Optional<TextRow> textRow(Settings config, Artifact artifact, String text) {
        return Optional.empty();
    }

    /** One row of a batch and the tokens at its positions. */
    record TextRow(Batch batch, List<String> labels) {}

    /**
     * How a trained model of this family leaves ringformer for another framework ({@code ringformer export}): the
     * names its parameters take there and the config.json that describes it.
     *
     * @throws IllegalArgumentException when this family, or this config of it, has no such form; the message names
     *                                  the key that prevents it
     */
    default Export export(Settings config, Artifact artifact) {
        throw new IllegalArgumentException("a " + name() + " model cannot be exported yet: its family defines no "
                + "export (ModelFamily.export)");
    }
}

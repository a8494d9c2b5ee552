package io.ringformer.zoo.family;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The preprocessing a model cannot be used without, saved with every checkpoint under {@link #fileName}: a
 * tokenizer, or image statistics. It is fitted once, on the training data, and then only loaded.
 */
public interface Artifact {

    /** The file name in the run directory and in every checkpoint, e.g. {@code tokenizer.json}. */
    String fileName();

    void save(Path file) throws IOException;

    /** Tokens in the vocabulary, or classes: the size of the model's output layer. */
    int outputSize();
}

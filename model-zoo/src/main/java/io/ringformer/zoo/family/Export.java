package io.ringformer.zoo.family;

import java.util.Map;

/**
 * A trained model as another framework loads it ({@link ModelFamily#export}): each of ringformer's parameter names
 * with the name it takes there (shapes and row-major layout unchanged), in the order to write them, and that
 * framework's {@code config.json}.
 *
 * @param format     what the names follow, e.g. "Hugging Face GPT2LMHeadModel"
 * @param names      ringformer's name → the exported name
 * @param configJson the config.json to write beside the weights
 */
public record Export(String format, Map<String, String> names, String configJson) {

    public Export {
        names = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(names));
    }
}

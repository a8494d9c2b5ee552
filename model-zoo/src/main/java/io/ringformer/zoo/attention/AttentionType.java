package io.ringformer.zoo.attention;

import io.ringformer.zoo.family.ConfigKey;
import io.ringformer.zoo.family.Settings;
import java.util.List;

/**
 * The extension point for attention: one way of turning a layer's queries, keys and values into its output,
 * selected by {@code attention.type}. Every family's blocks ask for the configured {@link Attention}, so a new type
 * is one class implementing this interface plus one line in
 * {@code META-INF/services/io.ringformer.zoo.attention.AttentionType} (see docs/custom-attention.md); nothing in
 * the models or the trainer changes.
 */
public interface AttentionType {

    /** The value of {@code attention.type} that selects it: lower case, words joined by '_'. */
    String name();

    /** One line for the config reference. */
    String description();

    /** Its own keys, all under {@code attention.}, with defaults and ranges: every config accepts them. */
    default List<ConfigKey> keys() {
        return List.of();
    }

    /** The attention a config asks for, its keys read (and checked beyond their ranges). */
    Attention configure(Settings config);
}

package io.ringformer.zoo.family;

import io.ringformer.zoo.attention.AttentionTypes;
import io.ringformer.zoo.family.ConfigKey.Type;
import java.util.ArrayList;
import java.util.List;

/**
 * The keys every transformer family has — depth, heads, width, dropout, with each family's own defaults — and the
 * attention types' keys ({@link AttentionTypes#keys}).
 */
public final class TransformerKeys {

    private TransformerKeys() {}

    public static List<ConfigKey> of(int layers, int heads, int width) {
        List<ConfigKey> keys = new ArrayList<>(List.of(
                new ConfigKey("model.n_layer", Type.INT, layers, "transformer blocks", 1, 256),
                new ConfigKey("model.n_head", Type.INT, heads, "attention heads per block", 1, 256),
                new ConfigKey("model.n_embd", Type.INT, width, "model width", 1, 16384),
                new ConfigKey("model.dropout", Type.DOUBLE, 0.0,
                        "dropout on embeddings, attention weights and residuals", 0, 0.99)));
        keys.addAll(AttentionTypes.keys());
        return keys;
    }

    /** Each head takes n_embd / n_head dimensions. */
    public static void checkHeads(Settings config) {
        int width = config.getInt("model.n_embd");
        int heads = config.getInt("model.n_head");
        if (width % heads != 0) {
            throw new IllegalArgumentException("model.n_embd=" + width + " is not a multiple of model.n_head=" + heads
                    + " (each head takes n_embd / n_head dimensions; e.g. --set model.n_embd="
                    + (width / heads + 1) * heads + ")");
        }
    }
}

package io.ringformer.zoo.attention;

import io.ringformer.zoo.family.ConfigKey;
import io.ringformer.zoo.family.Settings;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * The registry of attention types: every {@link AttentionType} named in a
 * {@code META-INF/services/io.ringformer.zoo.attention.AttentionType} file on the class path, ringformer's own
 * included, found once by {@link ServiceLoader}.
 */
public final class AttentionTypes {

    public static final String KEY = "attention.type";
    public static final String DEFAULT = "full";

    private static final Map<String, AttentionType> ALL = load();

    private AttentionTypes() {}

    private static Map<String, AttentionType> load() {
        Map<String, AttentionType> types = new LinkedHashMap<>();
        for (AttentionType type : ServiceLoader.load(AttentionType.class, AttentionTypes.class.getClassLoader())) {
            AttentionType clash = types.putIfAbsent(type.name(), type);
            if (clash != null) {
                throw new IllegalStateException("two attention types are called '" + type.name() + "': "
                        + clash.getClass().getName() + " and " + type.getClass().getName());
            }
            for (ConfigKey key : type.keys()) {
                if (!key.name().startsWith("attention.")) {
                    throw new IllegalStateException("attention type '" + type.name() + "' declares key "
                            + key.name() + " outside attention.*");
                }
            }
        }
        return types;
    }

    public static List<String> names() {
        return List.copyOf(ALL.keySet());
    }

    /** {@value #KEY} and every type's own keys. */
    public static List<ConfigKey> keys() {
        List<ConfigKey> keys = new ArrayList<>();
        keys.add(new ConfigKey(KEY, ConfigKey.Type.STRING, DEFAULT, "how each layer attends: "
                + String.join(", ", ALL.values().stream().map(t -> t.name() + " (" + t.description() + ")")
                .toList()), names()));
        ALL.values().forEach(type -> keys.addAll(type.keys()));
        return keys;
    }

    /** The attention a config's {@value #KEY} names, configured from its keys. */
    public static Attention configured(Settings config) {
        return named(config.getString(KEY)).configure(config);
    }

    public static AttentionType named(String name) {
        AttentionType type = ALL.get(name);
        if (type == null) {
            throw new IllegalArgumentException(KEY + " '" + name + "' is not an attention type; the types are "
                    + String.join(", ", names()));
        }
        return type;
    }

    /** The attention every layer had before types existed: softmax over every allowed key. */
    public static Attention full() {
        return named(DEFAULT).configure(null);
    }
}

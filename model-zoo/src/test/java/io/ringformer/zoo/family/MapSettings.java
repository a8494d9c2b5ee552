package io.ringformer.zoo.family;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A config for tests: values by key, as a family or an attention type reads them. */
public record MapSettings(Map<String, Object> values) implements Settings {

    /** Every key's default, in a map the caller may change. */
    public static MapSettings defaults(List<ConfigKey> keys) {
        Map<String, Object> values = new HashMap<>();
        for (ConfigKey key : keys) {
            values.put(key.name(), key.defaultValue());
        }
        return new MapSettings(values);
    }

    @Override
    public int getInt(String key) {
        return (Integer) values.get(key);
    }

    @Override
    public double getDouble(String key) {
        return (Double) values.get(key);
    }

    @Override
    public String getString(String key) {
        return (String) values.get(key);
    }

    @Override
    public boolean getBoolean(String key) {
        return (Boolean) values.get(key);
    }
}

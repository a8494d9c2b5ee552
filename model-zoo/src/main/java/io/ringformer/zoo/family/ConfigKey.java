package io.ringformer.zoo.family;

import java.util.List;

/**
 * One configuration key: {@code section.name}, its type, default, a line of documentation, and what values it
 * takes: numbers in [{@code min}, {@code max}], strings among {@code choices} (empty: any string). The trainer's
 * keys and every family's keys ({@link ModelFamily#keys}) are written this way.
 */
public record ConfigKey(String name, Type type, Object defaultValue, String description, double min, double max,
                        List<String> choices) {

    public enum Type { INT, DOUBLE, STRING, BOOLEAN }

    public ConfigKey(String name, Type type, Object defaultValue, String description) {
        this(name, type, defaultValue, description, Double.NaN, Double.NaN, List.of());
    }

    public ConfigKey(String name, Type type, Object defaultValue, String description, double min, double max) {
        this(name, type, defaultValue, description, min, max, List.of());
    }

    public ConfigKey(String name, Type type, Object defaultValue, String description, List<String> choices) {
        this(name, type, defaultValue, description, Double.NaN, Double.NaN, choices);
    }

    /** The same key with another default (a family's own default for a shared key). */
    public ConfigKey withDefault(Object value) {
        return new ConfigKey(name, type, value, description, min, max, choices);
    }

    /** The values it takes, as the README and errors write them; empty when any value of its type does. */
    public String range() {
        if (!choices.isEmpty()) {
            return String.join(" | ", choices);
        }
        if (Double.isNaN(min)) {
            return "";
        }
        return type == Type.INT ? (long) min + " … " + (long) max : min + " … " + max;
    }

    /** Null when {@code value} is in range, else the error: key, value, range and the fix. */
    public String check(Object value) {
        boolean fits = !choices.isEmpty() ? choices.contains(value)
                : Double.isNaN(min) || value instanceof Number n && n.doubleValue() >= min
                && n.doubleValue() <= max;
        return fits ? null : name + "=" + value + " is out of range: it takes " + range() + " (fix it in the "
                + "config file or with --set " + name + "=…)";
    }
}

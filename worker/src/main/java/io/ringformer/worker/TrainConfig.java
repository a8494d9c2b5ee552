package io.ringformer.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The training configuration: every key, its type, default and meaning in one table ({@link #KEYS}), read from a
 * YAML file of nested sections ({@code optim: {lr: 1e-3}}) and overridden by {@code section.key=value} strings.
 * An unknown key, a value of the wrong type or a missing file is a {@link ConfigException} that names it.
 */
public final class TrainConfig {

    public enum Type { INT, DOUBLE, STRING, BOOLEAN }

    /**
     * One configuration key: {@code section.name}, its type, default, a line of documentation, and what values it
     * takes: numbers in [{@code min}, {@code max}], strings among {@code choices} (empty: any string).
     */
    public record Key(String name, Type type, Object defaultValue, String description, double min, double max,
                      List<String> choices) {
        Key(String name, Type type, Object defaultValue, String description) {
            this(name, type, defaultValue, description, Double.NaN, Double.NaN, List.of());
        }

        Key(String name, Type type, Object defaultValue, String description, double min, double max) {
            this(name, type, defaultValue, description, min, max, List.of());
        }

        Key(String name, Type type, Object defaultValue, String description, List<String> choices) {
            this(name, type, defaultValue, description, Double.NaN, Double.NaN, choices);
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
        String check(Object value) {
            boolean fits = !choices.isEmpty() ? choices.contains(value)
                    : Double.isNaN(min) || value instanceof Number n && n.doubleValue() >= min
                    && n.doubleValue() <= max;
            return fits ? null : name + "=" + value + " is out of range: it takes " + range() + " (fix it in the "
                    + "config file or with --set " + name + "=…)";
        }
    }

    /** Every key there is. The README's configuration reference is this table. */
    public static final List<Key> KEYS = List.of(
            new Key("model.n_layer", Type.INT, 4, "transformer blocks",
                    1, 256),
            new Key("model.n_head", Type.INT, 4, "attention heads per block",
                    1, 256),
            new Key("model.n_embd", Type.INT, 128, "model width",
                    1, 16384),
            new Key("model.block_size", Type.INT, 64, "context length in tokens",
                    1, 65536),
            new Key("model.dropout", Type.DOUBLE, 0.0, "dropout on embeddings, attention weights and residuals",
                    0, 0.99),
            new Key("model.positions", Type.STRING, "learned", "learned | sinusoidal | rope | alibi",
                    List.of("learned", "sinusoidal", "rope", "alibi")),
            new Key("model.backend", Type.STRING, "fused",
                    "fused (hand-written step: oneDNN GEMMs, Vector API kernels) | samediff (the graph); fused falls"
                            + " back to samediff, saying so, for what it does not cover (dropout, fp16)",
                    List.of("fused", "samediff")),
            new Key("data.path", Type.STRING, "data/moby-dick.txt",
                    "UTF-8 text file, relative to the working directory"),
            new Key("data.train_fraction", Type.DOUBLE, 0.9, "leading share of the text used for training",
                    0.01, 0.99),
            new Key("train.batch_size", Type.INT, 12,
                    "sequences per optimizer step: the global batch, whatever the workers and accumulation",
                    1, 1_000_000),
            new Key("train.grad_accum", Type.INT, 1, "micro-batches a worker splits its share of the batch into",
                    1, 1_000_000),
            new Key("train.max_iters", Type.INT, 2000, "optimizer steps",
                    1, 1_000_000_000),
            new Key("train.seed", Type.INT, 1337, "seed of the initial parameters and of the batch sequence",
                    0, Integer.MAX_VALUE),
            new Key("train.precision", Type.STRING, "fp32", "fp32 | bf16 | fp16 (matmul compute type)",
                    List.of("fp32", "bf16", "fp16")),
            new Key("optim.lr", Type.DOUBLE, 1e-3, "peak learning rate",
                    1e-12, 10),
            new Key("optim.min_lr", Type.DOUBLE, 1e-4, "learning rate at and after lr_decay_iters",
                    0, 10),
            new Key("optim.schedule", Type.STRING, "cosine", "cosine (linear warmup, cosine decay) | constant",
                    List.of("cosine", "constant")),
            new Key("optim.warmup_iters", Type.INT, 100, "steps of linear warmup",
                    0, 1_000_000_000),
            new Key("optim.lr_decay_iters", Type.INT, 2000, "step at which the cosine reaches min_lr",
                    1, 1_000_000_000),
            new Key("optim.beta1", Type.DOUBLE, 0.9, "AdamW first-moment decay",
                    0, 0.999999),
            new Key("optim.beta2", Type.DOUBLE, 0.99, "AdamW second-moment decay",
                    0, 0.999999),
            new Key("optim.eps", Type.DOUBLE, 1e-8, "AdamW denominator epsilon",
                    1e-30, 1),
            new Key("optim.weight_decay", Type.DOUBLE, 0.1, "decoupled weight decay, matrices only",
                    0, 10),
            new Key("optim.grad_clip", Type.DOUBLE, 1.0, "global gradient-norm clip; 0 turns it off",
                    0, 1e6),
            new Key("eval.interval", Type.INT, 250, "steps between evaluations",
                    1, 1_000_000_000),
            new Key("eval.iters", Type.INT, 20, "fixed batches per split in one evaluation",
                    1, 100_000),
            new Key("checkpoint.interval", Type.INT, 250, "steps between checkpoints (and one at the end)",
                    1, 1_000_000_000),
            new Key("checkpoint.keep", Type.INT, 3, "valid checkpoints kept in the run directory",
                    1, 10_000),
            new Key("log.interval", Type.INT, 10, "steps between log lines and metrics records",
                    1, 1_000_000_000),
            new Key("exchange.wire", Type.STRING, "fp32", "gradients on the wire: fp32 | bf16 | fp16 (summed in fp32)",
                    List.of("fp32", "bf16", "fp16")),
            new Key("exchange.timeout_ms", Type.INT, 30000, "longest wait for one all-reduce before the step fails",
                    100, 86_400_000));

    private final Map<String, Object> values;

    private TrainConfig(Map<String, Object> values) {
        this.values = values;
    }

    /** The defaults alone. */
    public static TrainConfig defaults() {
        return override(new TrainConfig(new LinkedHashMap<>()), List.of());
    }

    /** Reads a YAML file, then applies {@code key=value} overrides in order. */
    public static TrainConfig load(Path file, List<String> overrides) {
        String yaml;
        try {
            yaml = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException("config file not found: " + file);
        } catch (IOException e) {
            throw new ConfigException("cannot read config file " + file + ": " + e.getMessage());
        }
        return override(parse(yaml, file.toString()), overrides);
    }

    /** Parses YAML text; {@code origin} names it in errors. */
    public static TrainConfig parse(String yaml, String origin) {
        Object tree;
        try {
            tree = new ObjectMapper(new YAMLFactory()).readValue(yaml, Object.class);
        } catch (IOException e) {
            throw new ConfigException(origin + " is not valid YAML: " + e.getMessage().lines().findFirst().orElse(""));
        }
        Map<String, Object> values = new LinkedHashMap<>();
        if (tree != null) {
            if (!(tree instanceof Map<?, ?> sections)) {
                throw new ConfigException(origin + ": expected sections such as 'model:' and 'train:' at the top");
            }
            for (Map.Entry<?, ?> section : sections.entrySet()) {
                if (!(section.getValue() instanceof Map<?, ?> entries)) {
                    throw new ConfigException(origin + ": '" + section.getKey() + "' should be a section of keys");
                }
                for (Map.Entry<?, ?> entry : entries.entrySet()) {
                    String name = section.getKey() + "." + entry.getKey();
                    values.put(name, convert(key(name), entry.getValue()));
                }
            }
        }
        return new TrainConfig(values);
    }

    /** A copy with {@code key=value} overrides applied, e.g. {@code optim.lr=3e-4}. */
    public static TrainConfig override(TrainConfig base, List<String> overrides) {
        Map<String, Object> values = new LinkedHashMap<>(base.values);
        for (String override : overrides) {
            int eq = override.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException("override '" + override + "' should look like key=value, e.g. optim.lr=3e-4");
            }
            String name = override.substring(0, eq).trim();
            values.put(name, convert(key(name), override.substring(eq + 1).trim()));
        }
        Map<String, Object> complete = new LinkedHashMap<>();
        for (Key key : KEYS) {
            Object value = values.getOrDefault(key.name(), key.defaultValue());
            String problem = key.check(value);
            if (problem != null) {
                throw new ConfigException(problem);
            }
            complete.put(key.name(), value);
        }
        int width = (Integer) complete.get("model.n_embd");
        int heads = (Integer) complete.get("model.n_head");
        if (width % heads != 0) {
            throw new ConfigException("model.n_embd=" + width + " is not a multiple of model.n_head=" + heads
                    + " (each head takes n_embd / n_head dimensions; e.g. --set model.n_embd="
                    + (width / heads + 1) * heads + ")");
        }
        return new TrainConfig(complete);
    }

    /** A copy with one value replaced. */
    public TrainConfig with(String name, Object value) {
        return override(this, List.of(name + "=" + value));
    }

    private static Key key(String name) {
        for (Key key : KEYS) {
            if (key.name().equals(name)) {
                return key;
            }
        }
        List<String> near = new ArrayList<>();
        String leaf = name.substring(name.lastIndexOf('.') + 1);
        for (Key key : KEYS) {
            if (key.name().endsWith("." + leaf) || key.name().startsWith(name)) {
                near.add(key.name());
            }
        }
        throw new ConfigException("unknown config key '" + name + "'"
                + (near.isEmpty() ? "; see the configuration reference in README.md" : "; did you mean " + near + "?"));
    }

    private static Object convert(Key key, Object raw) {
        String text = String.valueOf(raw).trim();
        try {
            return switch (key.type()) {
                case INT -> raw instanceof Integer i ? i : Integer.valueOf(text.replace("_", ""));
                case DOUBLE -> raw instanceof Number n ? n.doubleValue() : Double.valueOf(text);
                case BOOLEAN -> {
                    if (!text.equalsIgnoreCase("true") && !text.equalsIgnoreCase("false")) {
                        throw new NumberFormatException();
                    }
                    yield Boolean.valueOf(text);
                }
                case STRING -> {
                    if (raw instanceof Map || raw instanceof List) {
                        throw new NumberFormatException();
                    }
                    yield text;
                }
            };
        } catch (NumberFormatException e) {
            throw new ConfigException("config key '" + key.name() + "' needs " + article(key.type()) + ", got '"
                    + text + "'");
        }
    }

    private static String article(Type type) {
        return switch (type) {
            case INT -> "an integer";
            case DOUBLE -> "a number";
            case BOOLEAN -> "true or false";
            case STRING -> "a string";
        };
    }

    /** The value of any key, as its type's boxed value. */
    public Object get(String name) {
        return values.get(key(name).name());
    }

    public int getInt(String name) {
        return (Integer) values.get(key(name).name());
    }

    public double getDouble(String name) {
        return (Double) values.get(key(name).name());
    }

    public String getString(String name) {
        return (String) values.get(key(name).name());
    }

    /** The effective configuration as nested YAML, every key present. */
    public String toYaml() {
        Map<String, Map<String, Object>> sections = new LinkedHashMap<>();
        for (Map.Entry<String, Object> entry : values.entrySet()) {
            int dot = entry.getKey().indexOf('.');
            sections.computeIfAbsent(entry.getKey().substring(0, dot), s -> new LinkedHashMap<>())
                    .put(entry.getKey().substring(dot + 1), entry.getValue());
        }
        try {
            return new ObjectMapper(new YAMLFactory().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER))
                    .writeValueAsString(sections);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TrainConfig other && values.equals(other.values);
    }

    @Override
    public int hashCode() {
        return values.hashCode();
    }
}

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

    /** One configuration key: {@code section.name}, its type, default and a line of documentation. */
    public record Key(String name, Type type, Object defaultValue, String description) {}

    /** Every key there is. The README's configuration reference is this table. */
    public static final List<Key> KEYS = List.of(
            new Key("model.n_layer", Type.INT, 4, "transformer blocks"),
            new Key("model.n_head", Type.INT, 4, "attention heads per block"),
            new Key("model.n_embd", Type.INT, 128, "model width"),
            new Key("model.block_size", Type.INT, 64, "context length in tokens"),
            new Key("model.dropout", Type.DOUBLE, 0.0, "dropout on embeddings, attention weights and residuals"),
            new Key("model.positions", Type.STRING, "learned", "learned | sinusoidal | rope | alibi"),
            new Key("model.backend", Type.STRING, "fused",
                    "fused (hand-written step: oneDNN GEMMs, Vector API kernels) | samediff (the graph); fused falls"
                            + " back to samediff, saying so, for what it does not cover (dropout, fp16)"),
            new Key("data.path", Type.STRING, "data/moby-dick.txt",
                    "UTF-8 text file, relative to the working directory"),
            new Key("data.train_fraction", Type.DOUBLE, 0.9, "leading share of the text used for training"),
            new Key("train.batch_size", Type.INT, 12,
                    "sequences per optimizer step: the global batch, whatever the workers and accumulation"),
            new Key("train.grad_accum", Type.INT, 1, "micro-batches a worker splits its share of the batch into"),
            new Key("train.max_iters", Type.INT, 2000, "optimizer steps"),
            new Key("train.seed", Type.INT, 1337, "seed of the initial parameters and of the batch sequence"),
            new Key("train.precision", Type.STRING, "fp32", "fp32 | bf16 | fp16 (matmul compute type)"),
            new Key("optim.lr", Type.DOUBLE, 1e-3, "peak learning rate"),
            new Key("optim.min_lr", Type.DOUBLE, 1e-4, "learning rate at and after lr_decay_iters"),
            new Key("optim.schedule", Type.STRING, "cosine", "cosine (linear warmup, cosine decay) | constant"),
            new Key("optim.warmup_iters", Type.INT, 100, "steps of linear warmup"),
            new Key("optim.lr_decay_iters", Type.INT, 2000, "step at which the cosine reaches min_lr"),
            new Key("optim.beta1", Type.DOUBLE, 0.9, "AdamW first-moment decay"),
            new Key("optim.beta2", Type.DOUBLE, 0.99, "AdamW second-moment decay"),
            new Key("optim.eps", Type.DOUBLE, 1e-8, "AdamW denominator epsilon"),
            new Key("optim.weight_decay", Type.DOUBLE, 0.1, "decoupled weight decay, matrices only"),
            new Key("optim.grad_clip", Type.DOUBLE, 1.0, "global gradient-norm clip; 0 turns it off"),
            new Key("eval.interval", Type.INT, 250, "steps between evaluations"),
            new Key("eval.iters", Type.INT, 20, "fixed batches per split in one evaluation"),
            new Key("checkpoint.interval", Type.INT, 250, "steps between checkpoints (and one at the end)"),
            new Key("checkpoint.keep", Type.INT, 3, "valid checkpoints kept in the run directory"),
            new Key("log.interval", Type.INT, 10, "steps between log lines and metrics records"),
            new Key("exchange.wire", Type.STRING, "fp32", "gradients on the wire: fp32 | bf16 | fp16 (summed in fp32)"),
            new Key("exchange.timeout_ms", Type.INT, 30000, "longest wait for one all-reduce before the step fails"));

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
            complete.put(key.name(), values.getOrDefault(key.name(), key.defaultValue()));
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

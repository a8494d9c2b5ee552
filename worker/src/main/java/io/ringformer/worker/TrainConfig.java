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
import io.ringformer.zoo.family.ConfigKey;
import io.ringformer.zoo.family.ConfigKey.Type;
import io.ringformer.zoo.family.ModelFamilies;
import io.ringformer.zoo.family.ModelFamily;
import io.ringformer.zoo.family.Settings;

/**
 * The training configuration: the trainer's keys ({@link #KEYS}) and the keys of the model family that
 * {@code model.family} names ({@link ModelFamily#keys}), each with its type, default and meaning, read from a YAML
 * file of nested sections ({@code optim: {lr: 1e-3}}) and overridden by {@code section.key=value} strings. An
 * unknown key, a key of another family, a value of the wrong type or out of range, or a missing file is a
 * {@link ConfigException} that names it.
 */
public final class TrainConfig implements Settings {

    /** The trainer's keys, the same for every family. The README's configuration reference is these and each family's. */
    public static final List<ConfigKey> KEYS = List.of(
            new ConfigKey("model.family", Type.STRING, ModelFamilies.DEFAULT, "the model family: "
                    + String.join(" | ", ModelFamilies.names()) + " (its own keys follow it in this reference)",
                    ModelFamilies.names()),
            new ConfigKey("model.backend", Type.STRING, "fused",
                    "fused (hand-written step: oneDNN GEMMs, Vector API kernels) | samediff (the graph); fused falls"
                            + " back to samediff, saying so, for what it does not cover (dropout, fp16)",
                    List.of("fused", "samediff")),
            new ConfigKey("train.batch_size", Type.INT, 12,
                    "sequences per optimizer step: the global batch, whatever the workers and accumulation",
                    1, 1_000_000),
            new ConfigKey("train.grad_accum", Type.INT, 1, "micro-batches a worker splits its share of the batch into",
                    1, 1_000_000),
            new ConfigKey("train.max_iters", Type.INT, 2000, "optimizer steps",
                    1, 1_000_000_000),
            new ConfigKey("train.seed", Type.INT, 1337, "seed of the initial parameters and of the batch sequence",
                    0, Integer.MAX_VALUE),
            new ConfigKey("train.init_from", Type.STRING, "",
                    "a checkpoint or run directory whose parameters and artifact (tokenizer) start this run: "
                    + "fine-tuning; the optimizer and the step start afresh; empty: parameters from train.seed"),
            new ConfigKey("train.precision", Type.STRING, "fp32", "fp32 | bf16 | fp16 (matmul compute type)",
                    List.of("fp32", "bf16", "fp16")),
            new ConfigKey("optim.lr", Type.DOUBLE, 1e-3, "peak learning rate",
                    1e-12, 10),
            new ConfigKey("optim.min_lr", Type.DOUBLE, 1e-4, "learning rate at and after lr_decay_iters",
                    0, 10),
            new ConfigKey("optim.schedule", Type.STRING, "cosine", "cosine (linear warmup, cosine decay) | constant",
                    List.of("cosine", "constant")),
            new ConfigKey("optim.warmup_iters", Type.INT, 100, "steps of linear warmup",
                    0, 1_000_000_000),
            new ConfigKey("optim.lr_decay_iters", Type.INT, 2000, "step at which the cosine reaches min_lr",
                    1, 1_000_000_000),
            new ConfigKey("optim.beta1", Type.DOUBLE, 0.9, "AdamW first-moment decay",
                    0, 0.999999),
            new ConfigKey("optim.beta2", Type.DOUBLE, 0.99, "AdamW second-moment decay",
                    0, 0.999999),
            new ConfigKey("optim.eps", Type.DOUBLE, 1e-8, "AdamW denominator epsilon",
                    1e-30, 1),
            new ConfigKey("optim.weight_decay", Type.DOUBLE, 0.1, "decoupled weight decay, matrices only",
                    0, 10),
            new ConfigKey("optim.grad_clip", Type.DOUBLE, 1.0, "global gradient-norm clip; 0 turns it off",
                    0, 1e6),
            new ConfigKey("eval.interval", Type.INT, 250, "steps between evaluations",
                    1, 1_000_000_000),
            new ConfigKey("eval.iters", Type.INT, 20, "fixed batches per split in one evaluation",
                    1, 100_000),
            new ConfigKey("checkpoint.interval", Type.INT, 250, "steps between checkpoints (and one at the end)",
                    1, 1_000_000_000),
            new ConfigKey("checkpoint.keep", Type.INT, 3, "valid checkpoints kept in the run directory",
                    1, 10_000),
            new ConfigKey("log.interval", Type.INT, 10, "steps between log lines and metrics records",
                    1, 1_000_000_000),
            new ConfigKey("exchange.wire", Type.STRING, "fp32", "gradients on the wire: fp32 | bf16 | fp16 (summed in fp32)",
                    List.of("fp32", "bf16", "fp16")),
            new ConfigKey("exchange.transport", Type.STRING, "auto", "how workers sum gradients: auto (shared "
                    + "memory when every member uses one shared media driver, hierarchical when several hosts have "
                    + "several members, else the Aeron ring) | ring | shm (shared memory, or fail) | hierarchical "
                    + "(shared memory within each host, the ring among one leader per host)",
                    List.of("auto", "ring", "shm", "hierarchical")),
            new ConfigKey("exchange.bucket_bytes", Type.INT, 0, "0: one all-reduce after the backward pass; more: "
                    + "the gradient goes out in buckets of at least this many bytes as the backward pass completes "
                    + "their layers (fused GPT), overlapping the exchange with the backward pass", 0, 1 << 30),
            new ConfigKey("exchange.timeout_ms", Type.INT, 30000, "longest wait for one all-reduce before the step fails",
                    100, 86_400_000));


    private final ModelFamily family;
    private final Map<String, Object> values;

    private TrainConfig(ModelFamily family, Map<String, Object> values) {
        this.family = family;
        this.values = values;
    }

    /** The defaults alone. */
    public static TrainConfig defaults() {
        return complete(new LinkedHashMap<>());
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
        return override(raw(yaml, file.toString()), overrides);
    }

    /** Parses YAML text; {@code origin} names it in errors. */
    public static TrainConfig parse(String yaml, String origin) {
        return override(raw(yaml, origin), List.of());
    }

    /** The sections of a YAML text as {@code section.key → value}, unchecked. */
    private static TrainConfig raw(String yaml, String origin) {
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
                    values.put(section.getKey() + "." + entry.getKey(), entry.getValue());
                }
            }
        }
        return new TrainConfig(null, values);
    }

    /** A copy with {@code key=value} overrides applied, e.g. {@code optim.lr=3e-4}. */
    public static TrainConfig override(TrainConfig base, List<String> overrides) {
        Map<String, Object> values = new LinkedHashMap<>(base.values);
        for (String override : overrides) {
            int eq = override.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException("override '" + override + "' should look like key=value, e.g. optim.lr=3e-4");
            }
            values.put(override.substring(0, eq).trim(), override.substring(eq + 1).trim());
        }
        return complete(values);
    }

    /**
     * Every key of the trainer and of the family {@code model.family} names, each from {@code values} or its
     * default, converted and checked; then the family's own checks.
     */
    private static TrainConfig complete(Map<String, Object> values) {
        Object named = values.getOrDefault("model.family", ModelFamilies.DEFAULT);
        ModelFamily family;
        try {
            family = ModelFamilies.named(String.valueOf(named).trim());
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage() + " (fix it in the config file or with --set model.family=…)");
        }
        List<ConfigKey> keys = keys(family);
        for (String name : values.keySet()) {
            key(keys, family, name);
        }
        Map<String, Object> complete = new LinkedHashMap<>();
        for (ConfigKey key : keys) {
            Object value = values.containsKey(key.name()) ? convert(key, values.get(key.name())) : key.defaultValue();
            String problem = key.check(value);
            if (problem != null) {
                throw new ConfigException(problem);
            }
            complete.put(key.name(), value);
        }
        TrainConfig config = new TrainConfig(family, complete);
        try {
            family.check(config);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
        return config;
    }

    /** The trainer's keys and {@code family}'s, in the order the README lists them. */
    public static List<ConfigKey> keys(ModelFamily family) {
        List<ConfigKey> keys = new ArrayList<>(KEYS);
        keys.addAll(family.keys());
        return keys;
    }

    /** A copy with one value replaced. */
    public TrainConfig with(String name, Object value) {
        return override(this, List.of(name + "=" + value));
    }

    /** The family {@code model.family} names. */
    public ModelFamily family() {
        return family;
    }

    /** This config's keys: the trainer's and its family's. */
    public List<ConfigKey> keys() {
        return keys(family);
    }

    private static ConfigKey key(List<ConfigKey> keys, ModelFamily family, String name) {
        for (ConfigKey key : keys) {
            if (key.name().equals(name)) {
                return key;
            }
        }
        for (ModelFamily other : ModelFamilies.all()) {
            for (ConfigKey key : other.keys()) {
                if (key.name().equals(name)) {
                    throw new ConfigException("config key '" + name + "' belongs to model.family " + other.name()
                            + ", and this config's model.family is " + family.name() + "; remove the key, or set "
                            + "model.family: " + other.name());
                }
            }
        }
        List<String> near = new ArrayList<>();
        String leaf = name.substring(name.lastIndexOf('.') + 1);
        for (ConfigKey key : keys) {
            if (key.name().endsWith("." + leaf) || key.name().startsWith(name)) {
                near.add(key.name());
            }
        }
        throw new ConfigException("unknown config key '" + name + "'"
                + (near.isEmpty() ? "; see the configuration reference in README.md" : "; did you mean " + near + "?"));
    }

    private static Object convert(ConfigKey key, Object raw) {
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
        return values.get(key(keys(), family, name).name());
    }

    @Override
    public int getInt(String name) {
        return (Integer) get(name);
    }

    @Override
    public double getDouble(String name) {
        return (Double) get(name);
    }

    @Override
    public String getString(String name) {
        return (String) get(name);
    }

    @Override
    public boolean getBoolean(String name) {
        return (Boolean) get(name);
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

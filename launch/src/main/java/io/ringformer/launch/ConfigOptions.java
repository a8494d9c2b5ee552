package io.ringformer.launch;

import io.ringformer.worker.TrainConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** {@code --config FILE [--set key=value]…}, shared by the commands that take a training config. */
public final class ConfigOptions {

    @Option(names = "--config", required = true, paramLabel = "FILE", description = "Config YAML (see configs/).")
    Path file;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "Override a config key, e.g. --set optim.lr=3e-4 (repeatable).")
    List<String> overrides = new ArrayList<>();

    public TrainConfig load() {
        return TrainConfig.load(file, overrides);
    }

    public Path file() {
        return file;
    }

    /** The {@code --set} overrides, in order. */
    public List<String> overrides() {
        return List.copyOf(overrides);
    }

    /** The config file's name without .yaml: the default run name. */
    public String name() {
        String name = file.getFileName().toString();
        return name.endsWith(".yaml") ? name.substring(0, name.length() - 5) : name;
    }
}

package io.ringformer.worker;

/** Bad configuration or input: the message names the key or file and what to do; the CLI exits with 2. */
public final class ConfigException extends IllegalArgumentException {
    public ConfigException(String message) {
        super(message);
    }
}

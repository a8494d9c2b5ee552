package io.ringformer.worker;

import io.ringformer.protocol.InputException;

/** Bad configuration or input: the message names the key or file and what to do; the CLI exits with 2. */
public final class ConfigException extends InputException {
    public ConfigException(String message) {
        super(message);
    }
}

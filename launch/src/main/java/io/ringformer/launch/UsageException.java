package io.ringformer.launch;

import io.ringformer.protocol.InputException;

/** A command line whose values do not fit together (e.g. {@code --workers 0}); exit 2, one line. */
final class UsageException extends InputException {
    UsageException(String message) {
        super(message);
    }
}

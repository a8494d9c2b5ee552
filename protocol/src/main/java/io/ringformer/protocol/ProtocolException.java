package io.ringformer.protocol;

/** Bytes read from ZooKeeper that are not a valid record of the kind expected; the message says which and why. */
public final class ProtocolException extends RuntimeException {

    public ProtocolException(String message) {
        super(message);
    }

    public ProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}

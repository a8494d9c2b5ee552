package io.ringformer.protocol;

/**
 * Input the person running ringformer must fix: a bad command line, config value, data file, checkpoint, job
 * spec or address. The message is one line that names what is wrong and what to do; the CLI prints it without a
 * stack trace and exits with 2. Everything else that goes wrong is a runtime failure (exit 1).
 *
 * <p>It lives in {@code protocol}, the one module every role shares, so that the coordinator's and the worker's
 * input errors have one type the launcher can tell apart from bugs ({@code IllegalArgumentException} from a
 * library is not the user's input).
 */
public class InputException extends RuntimeException {
    public InputException(String message) {
        super(message);
    }
}

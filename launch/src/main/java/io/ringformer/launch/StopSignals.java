package io.ringformer.launch;

import java.util.concurrent.atomic.AtomicInteger;
import sun.misc.Signal;

/**
 * Ctrl-C and SIGTERM for a command that stops gracefully. The first Ctrl-C (SIGINT) or any SIGTERM asks for a
 * stop after the current step, with a checkpoint; a second Ctrl-C stops at once. The handlers replace the JVM's
 * default (which runs shutdown hooks and exits), so the command ends through its normal path, with its own exit
 * code, and cleans up once.
 */
final class StopSignals {

    private StopSignals() {}

    /**
     * @param graceful  asks for a stop after the current step (may run more than once)
     * @param immediate kills what must not outlive this process; then it halts with 130
     */
    static void install(Runnable graceful, Runnable immediate) {
        AtomicInteger interrupts = new AtomicInteger();
        Signal.handle(new Signal("INT"), signal -> {
            if (interrupts.incrementAndGet() == 1) {
                System.err.println("ringformer: stopping after this step with a checkpoint (Ctrl-C again to stop "
                        + "at once)");
                graceful.run();
            } else {
                immediate.run();
                Runtime.getRuntime().halt(130);
            }
        });
        Signal.handle(new Signal("TERM"), signal -> graceful.run());
    }
}

package io.ringformer.launch;

import io.ringformer.protocol.ZkAuth;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Another {@code ringformer} process on this machine, with this JVM's classpath and the flags every role needs:
 * one thread for ND4J and BLAS (one worker per core, DESIGN.md §2) and Aeron's export of jdk.internal.misc.
 */
public final class ChildJvm {

    private ChildJvm() {}

    /**
     * Starts {@code ringformer <arguments>}.
     *
     * @param log where stdout and stderr go; null inherits this process's
     */
    public static Process start(List<String> arguments, String heap, Path log) {
        return start(arguments, heap, log, null);
    }

    /** As above, in {@code directory} (null: this process's working directory). */
    public static Process start(List<String> arguments, String heap, Path log, Path directory) {
        return start(List.of(), arguments, heap, log, directory);
    }

    /**
     * As above, the JVM's command line behind {@code prefix} (e.g. {@code ip netns exec h1}, to run it on a host
     * that is a network namespace).
     */
    public static Process start(List<String> prefix, List<String> arguments, String heap, Path log, Path directory) {
        return start(prefix, arguments, heap, log, directory, Map.of());
    }

    /** As above, with {@code environment} added to the child's (e.g. CUDA_VISIBLE_DEVICES). */
    public static Process start(List<String> prefix, List<String> arguments, String heap, Path log, Path directory,
                                Map<String, String> environment) {
        List<String> command = new ArrayList<>(prefix);
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx" + heap);
        command.add("-Djava.awt.headless=true");
        command.add("--add-exports");
        command.add("java.base/jdk.internal.misc=ALL-UNNAMED");
        command.add("--add-modules");
        command.add("jdk.incubator.vector");
        command.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
        command.add("-Dorg.slf4j.simpleLogger.log.org.nd4j.imports=error");
        command.add("-Dorg.slf4j.simpleLogger.log.org.apache.zookeeper=error");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Ringformer.class.getName());
        command.addAll(arguments);
        ProcessBuilder builder = new ProcessBuilder(command);
        if (directory != null) {
            builder.directory(directory.toFile());
        }
        builder.environment().put("OMP_NUM_THREADS", "1");
        builder.environment().put("OPENBLAS_NUM_THREADS", "1");
        builder.environment().putAll(environment);
        // ZooKeeper credentials (--zk-auth) travel in the environment, never on a command line ps shows
        ZkAuth.configured().ifPresent(auth -> builder.environment().put(ZkAuth.ENVIRONMENT, auth.secret()));
        if (log == null) {
            builder.inheritIO();
        } else {
            File file = log.toFile();
            builder.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(file));
        }
        try {
            return builder.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start a ringformer process: " + e.getMessage(), e);
        }
    }

    /** SIGKILL to every process and its children, at once, without waiting (a second Ctrl-C). */
    public static void killAll(List<Process> processes) {
        for (Process p : List.copyOf(processes)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }

    /** Kills what is still running, children first, and waits for it to go. */
    public static void stopAll(List<Process> processes) {
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
        }
        for (Process p : processes) {
            try {
                if (!p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
            }
        }
    }
}

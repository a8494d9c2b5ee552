package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.launch.ChildJvm;
import io.ringformer.worker.checkpoint.CheckpointStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code ringformer} process under test that runs in the background (a launcher, a coordinator, a worker, a
 * ZooKeeper), its output in a log file the test reads while it runs; {@link #close} kills what is left.
 */
final class Job implements AutoCloseable {

    final Process process;
    final Path log;
    final String name;

    private Job(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    static Job start(Path log, String... arguments) {
        return start(log, null, arguments);
    }

    /** Starts {@code ringformer <arguments>} in {@code directory} (null: this one). */
    static Job start(Path log, Path directory, String... arguments) {
        try {
            Files.deleteIfExists(log);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return new Job(String.join(" ", arguments), ChildJvm.start(List.of(arguments), "2g", log, directory), log);
    }

    /** Starts {@code ringformer <arguments>} behind {@code prefix}, e.g. {@code ip netns exec h1}. */
    static Job startBehind(List<String> prefix, Path log, String... arguments) {
        try {
            Files.deleteIfExists(log);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return new Job(String.join(" ", prefix) + " " + String.join(" ", arguments),
                ChildJvm.start(prefix, List.of(arguments), "2g", log, null), log);
    }

    String output() {
        return Cli.read(log);
    }

    /** Waits for a line matching {@code regex}; returns its match. */
    Matcher await(String regex, long timeoutSeconds) throws InterruptedException {
        return await(regex, timeoutSeconds, 0);
    }

    /** Waits for a line matching {@code regex} in the output after its first {@code from} characters. */
    Matcher await(String regex, long timeoutSeconds, int from) throws InterruptedException {
        Pattern pattern = Pattern.compile(regex, Pattern.MULTILINE);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        while (System.nanoTime() < deadline) {
            Matcher m = pattern.matcher(output());
            if (m.find(from)) {
                return m;
            }
            if (!process.isAlive()) {
                m = pattern.matcher(output());
                if (m.find(from)) {
                    return m;
                }
                throw new AssertionError("'" + name + "' exited " + process.exitValue() + " before printing /" + regex
                        + "/:\n" + output());
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no line /" + regex + "/ within " + timeoutSeconds + " s from '" + name + "':\n"
                + output());
    }

    /** Waits for the exit; asserts its code; returns the output. */
    String awaitExit(int expected, long timeoutSeconds) throws InterruptedException {
        if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            throw new AssertionError("'" + name + "' did not finish in " + timeoutSeconds + " s:\n" + output());
        }
        assertEquals(expected, process.exitValue(), () -> "'" + name + "' exited " + process.exitValue() + ":\n"
                + output());
        return output();
    }

    /** The worker JVM among this launcher's descendants whose command line holds {@code --id id}. */
    ProcessHandle worker(String id) {
        Optional<ProcessHandle> found = process.descendants()
                .filter(p -> commandLine(p).contains("\0--id\0" + id + "\0"))
                .findFirst();
        assertTrue(found.isPresent(), "no worker " + id + " under '" + name + "'");
        return found.get();
    }

    /** Arguments NUL-separated, read from /proc (ProcessHandle's command line is cut short for long class paths). */
    static String commandLine(ProcessHandle process) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc", Long.toString(process.pid()), "cmdline")));
        } catch (IOException e) {
            return "";
        }
    }

    /** SIGKILL; returns the wall-clock time of the kill. */
    static long kill(ProcessHandle process) throws Exception {
        long at = System.currentTimeMillis();
        int exit = new ProcessBuilder("kill", "-9", Long.toString(process.pid())).start().waitFor();
        assertEquals(0, exit, "kill -9 " + process.pid());
        return at;
    }

    /** The milliseconds from {@code killedAtMs} to the first recovered step rank 0 reported after it. */
    long recoveryMillis(long killedAtMs, long timeoutSeconds) throws InterruptedException {
        Pattern pattern = Pattern.compile("recovered: step (\\d+) done at (\\d+) ms since the epoch");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        while (System.nanoTime() < deadline) {
            Matcher m = pattern.matcher(output());
            while (m.find()) {
                long at = Long.parseLong(m.group(2));
                if (at >= killedAtMs) {
                    return at - killedAtMs;
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no step recovered after the kill within " + timeoutSeconds + " s:\n" + output());
    }

    /** The final state hashes every rank printed, in order of appearance. */
    List<String> stateHashes() {
        List<String> hashes = new ArrayList<>();
        Matcher m = Pattern.compile("rank \\d+: state hash ([0-9a-f]{16}) at step").matcher(output());
        while (m.find()) {
            hashes.add(m.group(1));
        }
        return hashes;
    }

    static float[] parameters(Path run, int step) {
        return CheckpointStore.load(run.resolve("checkpoints").resolve(String.format("step-%08d", step)))
                .state().params();
    }

    /** Stops the process and its children, and removes the media-driver directories a SIGKILL left in /dev/shm. */
    @Override
    public void close() {
        List<Long> pids = new ArrayList<>(List.of(process.pid()));
        process.descendants().forEach(p -> pids.add(p.pid()));
        ChildJvm.stopAll(List.of(process));
        for (long pid : pids) {
            java.io.File[] left = new java.io.File("/dev/shm").listFiles((d, n) -> n.startsWith("ringformer-" + pid + "-"));
            for (java.io.File directory : left == null ? new java.io.File[0] : left) {
                try (var walk = Files.walk(directory.toPath())) {
                    walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                } catch (IOException e) {
                    // best effort
                }
            }
        }
    }
}

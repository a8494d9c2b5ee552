package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ringformer.launch.ChildJvm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs {@code ringformer …} as a real process, output to a log file that a failure prints. */
final class Cli {

    private Cli() {}

    /** The data every test trains on (launch/fetch-data.sh brings it; the README's test command runs that). */
    /** The SWORD exports (launch/fetch-data.sh): data/bible with kjv.imp and sparv.imp. */
    static Path bible() {
        Path bible = Path.of("../data/bible").toAbsolutePath().normalize();
        if (!Files.isRegularFile(bible.resolve("kjv.imp")) || !Files.isRegularFile(bible.resolve("sparv.imp"))) {
            throw new AssertionError(bible + " lacks kjv.imp and sparv.imp: run launch/fetch-data.sh first");
        }
        return bible;
    }

    static Path mobyDick() {
        Path data = Path.of("../data/moby-dick.txt").toAbsolutePath().normalize();
        if (!Files.isRegularFile(data)) {
            throw new IllegalStateException(data + " is missing: run launch/fetch-data.sh first");
        }
        return data;
    }

    /** Runs to completion (at most {@code timeoutSeconds}) and returns its output; asserts the exit code. */
    static String run(Path log, int expectedExit, long timeoutSeconds, String... arguments) throws Exception {
        Files.deleteIfExists(log);
        Process process = ChildJvm.start(List.of(arguments), "2g", log);
        List<Process> all = new ArrayList<>(List.of(process));
        try {
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                throw new AssertionError("ringformer " + String.join(" ", arguments) + " did not finish in "
                        + timeoutSeconds + " s:\n" + read(log));
            }
            assertEquals(expectedExit, process.exitValue(), () -> "ringformer " + String.join(" ", arguments)
                    + " exited " + process.exitValue() + ":\n" + read(log));
            return read(log);
        } finally {
            ChildJvm.stopAll(all);
        }
    }

    static String read(Path log) {
        try {
            return Files.exists(log) ? Files.readString(log) : "(no output)";
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }
}

package io.ringformer.worker;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The real corpus tests train on: Moby Dick, brought by launch/fetch-data.sh (the README's test command runs it). */
public final class RealText {

    private RealText() {}

    public static Path mobyDick() {
        for (Path candidate : new Path[] {Path.of("data/moby-dick.txt"), Path.of("../data/moby-dick.txt")}) {
            if (Files.isRegularFile(candidate)) {
                return candidate.toAbsolutePath();
            }
        }
        throw new IllegalStateException("data/moby-dick.txt is missing: run launch/fetch-data.sh first");
    }

    /** The first {@code chars} characters of Moby Dick. */
    public static String mobyDick(int chars) {
        try {
            String text = Files.readString(mobyDick());
            return text.substring(0, Math.min(chars, text.length()));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}

package io.ringformer.zoo.text;

import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reading a training text, with errors that name the file and the fix. */
public final class TextFiles {

    private TextFiles() {}

    /** The UTF-8 text of {@code path}; {@link IllegalArgumentException} when it is missing, empty or not UTF-8. */
    public static String read(Path path) {
        try {
            String text = Files.readString(path);
            if (text.isEmpty()) {
                throw new IllegalArgumentException("data.path " + path + " is empty");
            }
            return text;
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("data file not found: " + path
                    + " (run launch/fetch-data.sh for Moby Dick, or --set data.path=FILE)");
        } catch (MalformedInputException e) {
            throw new IllegalArgumentException("data.path " + path + " is not UTF-8 text");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read data.path " + path + ": " + e.getMessage());
        }
    }
}

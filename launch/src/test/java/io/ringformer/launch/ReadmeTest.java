package io.ringformer.launch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.worker.TrainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The README's configuration reference is the config table: every key, with its default. */
class ReadmeTest {

    @Test
    void configurationReferenceListsEveryKeyWithItsDefault() throws Exception {
        String readme = Files.readString(Path.of("../README.md"));
        for (TrainConfig.Key key : TrainConfig.KEYS) {
            String row = "| `" + key.name() + "` | " + key.type().name().toLowerCase() + " | `";
            int at = readme.indexOf(row);
            assertTrue(at >= 0, "README.md has no row for " + key.name());
            String rest = readme.substring(at + row.length());
            String documented = rest.substring(0, rest.indexOf('`'));
            Object parsed = switch (key.type()) {
                case INT -> Integer.valueOf(documented);
                case DOUBLE -> Double.valueOf(documented);
                case BOOLEAN -> Boolean.valueOf(documented);
                case STRING -> documented;
            };
            assertTrue(parsed.equals(key.defaultValue()), key.name() + ": README says " + documented
                    + ", the default is " + key.defaultValue());
        }
    }
}

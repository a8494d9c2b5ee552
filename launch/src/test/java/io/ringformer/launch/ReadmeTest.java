package io.ringformer.launch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.worker.TrainConfig;
import io.ringformer.zoo.attention.AttentionTypes;
import io.ringformer.zoo.family.ConfigKey;
import io.ringformer.zoo.family.ModelFamilies;
import io.ringformer.zoo.family.ModelFamily;
import java.util.List;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The README's configuration reference is the config table: every trainer key, then every family's keys under its
 * own heading ({@code #### model.family: gpt}), each with its default; the attention keys, which every family
 * shares, under {@code #### attention.*}.
 */
class ReadmeTest {

    @Test
    void configurationReferenceListsEveryKeyWithItsDefault() throws Exception {
        String readme = Files.readString(Path.of("../README.md"));
        check(readme.substring(0, readme.indexOf("#### `model.family: ")), TrainConfig.KEYS);
        for (ModelFamily family : ModelFamilies.all()) {
            String heading = "#### `model.family: " + family.name() + "`";
            int at = readme.indexOf(heading);
            assertTrue(at >= 0, "README.md has no heading " + heading);
            int end = readme.indexOf("\n#", at + heading.length());
            check(readme.substring(at, end < 0 ? readme.length() : end), family.keys().stream()
                    .filter(key -> !key.name().startsWith("attention.")).toList());
        }
        String attention = "#### `attention.*`";
        int at = readme.indexOf(attention);
        assertTrue(at >= 0, "README.md has no heading " + attention);
        int end = readme.indexOf("\n#", at + attention.length());
        check(readme.substring(at, end < 0 ? readme.length() : end), AttentionTypes.keys());
    }

    private static void check(String readme, List<ConfigKey> keys) {
        for (ConfigKey key : keys) {
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

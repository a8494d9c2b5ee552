package io.ringformer.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainConfigTest {

    @Test
    void readsNestedYamlAndOverrides(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("c.yaml");
        Files.writeString(file, "model:\n  n_layer: 6\n  positions: rope\noptim:\n  lr: 3.0e-4\n");
        TrainConfig c = TrainConfig.load(file, List.of("optim.lr=5e-4", "train.batch_size=24"));
        assertEquals(6, c.getInt("model.n_layer"));
        assertEquals("rope", c.getString("model.positions"));
        assertEquals(5e-4, c.getDouble("optim.lr"));
        assertEquals(24, c.getInt("train.batch_size"));
        assertEquals(128, c.getInt("model.n_embd"), "defaults fill the rest");
        assertEquals(c, TrainConfig.parse(c.toYaml(), "round trip"));
    }

    @Test
    void unknownKeyIsNamedWithASuggestion() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> TrainConfig.parse("model:\n  n_layers: 3\n", "c.yaml"));
        assertTrue(e.getMessage().contains("'model.n_layers'") && e.getMessage().contains("model.n_layer"),
                e.getMessage());
        ConfigException set = assertThrows(ConfigException.class,
                () -> TrainConfig.override(TrainConfig.defaults(), List.of("optim.learning_rate=1")));
        assertTrue(set.getMessage().contains("optim.learning_rate"), set.getMessage());
    }

    @Test
    void wrongTypeAndMissingFileAreNamed() {
        ConfigException type = assertThrows(ConfigException.class,
                () -> TrainConfig.parse("train:\n  batch_size: twelve\n", "c.yaml"));
        assertTrue(type.getMessage().contains("train.batch_size") && type.getMessage().contains("integer"),
                type.getMessage());
        ConfigException missing = assertThrows(ConfigException.class,
                () -> TrainConfig.load(Path.of("/nonexistent/gpt.yaml"), List.of()));
        assertTrue(missing.getMessage().contains("/nonexistent/gpt.yaml"), missing.getMessage());
    }

    /** Every out-of-range value is refused at load with the key, the value, the range and the fix. */
    @Test
    void valuesOutOfRangeAreRefusedNamingKeyValueAndRange() {
        for (String[] bad : new String[][] {{"eval.iters=0", "1 … 100000"}, {"log.interval=-3", "1 … "},
                {"model.n_embd=65536", "1 … 16384"}, {"exchange.wire=fp8", "fp32 | bf16 | fp16"},
                {"optim.beta2=1.5", "0.0 … 0.999999"}, {"model.n_embd=130", "multiple of model.n_head"}}) {
            ConfigException e = assertThrows(ConfigException.class,
                    () -> TrainConfig.override(TrainConfig.defaults(), List.of(bad[0])), bad[0]);
            assertTrue(e.getMessage().contains(bad[0].substring(0, bad[0].indexOf('='))), e.getMessage());
            assertTrue(e.getMessage().contains(bad[1]), e.getMessage());
        }
    }
}

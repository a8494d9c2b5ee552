package io.ringformer.worker;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.family.Artifact;
import io.ringformer.zoo.gpt.Gpt;
import io.ringformer.zoo.gpt.GptFamily;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;

class MemoryEstimateTest {

    static final long GIB = 1L << 30;

    static TrainConfig config(String... overrides) {
        return TrainConfig.override(TrainConfig.defaults(), List.of(overrides));
    }

    /** An artifact that only sizes the output layer. */
    static Artifact outputs(int size) {
        return new Artifact() {
            public String fileName() {
                return "tokenizer.txt";
            }

            public void save(Path file) {
                throw new UnsupportedOperationException();
            }

            public int outputSize() {
                return size;
            }
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"learned", "rope"})
    void theParameterCountIsTheModelsOwn(String positions) {
        TrainConfig config = config("model.n_layer=2", "model.n_head=3", "model.n_embd=12", "model.block_size=7",
                "model.positions=" + positions);
        Gpt gpt = Gpt.build(GptFamily.modelConfig(config, 11), DataType.FLOAT, 1, false);
        int real = FlatParameters.of(gpt.parameters(), gpt.parameterNames(), name -> false).size();
        assertEquals(real, MemoryEstimate.of(config, outputs(11), 1).parameters());
    }

    @Test
    void nanoGptsCpuConfigFitsAFourGibHeapOnASmallMachine() {
        MemoryEstimate estimate = MemoryEstimate.of(config(), outputs(80), 1);
        assertTrue(estimate.totalBytes() < 200L << 20, estimate.toString());   // ~0.8M parameters, batch 12 × 64
        assertDoesNotThrow(() -> estimate.check(4 * GIB, 8 * GIB));
    }

    @Test
    void aModelTooLargeForTheHeapSaysHowMuchAndWhatToLower() {
        MemoryEstimate estimate = MemoryEstimate.of(config("model.n_embd=4096", "model.n_layer=64",
                "model.n_head=32"), outputs(80), 1);
        ConfigException e = assertThrows(ConfigException.class, () -> estimate.check(4 * GIB, 1024 * GIB));
        assertTrue(e.getMessage().contains("of Java heap") && e.getMessage().contains("4.0 GiB")
                && e.getMessage().contains("model.n_layer") && e.getMessage().contains("-Xmx"), e.getMessage());
    }

    @Test
    void activationsBeyondTheMachineNameTheBatchAndTheBlock() {
        MemoryEstimate estimate = MemoryEstimate.of(config("model.block_size=65536", "train.batch_size=64"), outputs(80), 1);
        assertTrue(estimate.heapBytes() < GIB, estimate.toString());
        ConfigException e = assertThrows(ConfigException.class, () -> estimate.check(4 * GIB, 24 * GIB));
        assertTrue(e.getMessage().contains("train.batch_size") && e.getMessage().contains("model.block_size")
                && e.getMessage().contains("24.0 GiB"), e.getMessage());
    }

    @Test
    void workersOnOneMachineShareIt() {
        MemoryEstimate estimate = MemoryEstimate.of(config("model.block_size=1024", "train.batch_size=16"), outputs(80), 1);
        long machine = estimate.totalBytes() * 3;
        assertDoesNotThrow(() -> estimate.check(4 * GIB, machine, 3));
        ConfigException e = assertThrows(ConfigException.class, () -> estimate.check(4 * GIB, machine, 4));
        assertTrue(e.getMessage().contains("for 4 workers"), e.getMessage());
    }

    @Test
    void theLargestConfigInRangeDoesNotOverflow() {
        MemoryEstimate estimate = MemoryEstimate.of(config("model.n_embd=16384", "model.n_layer=256",
                "model.n_head=256", "model.block_size=65536", "train.batch_size=1000000"), outputs(1 << 16), 1);
        assertTrue(estimate.heapBytes() > 0 && estimate.nativeBytes() > 0 && estimate.totalBytes() > 0,
                estimate.toString());
        assertThrows(ConfigException.class, estimate::checkHere);
    }

    @Test
    void thisMachinesMemoryIsRead() {
        assertTrue(MemoryEstimate.machineMemoryBytes().orElse(GIB) >= 256L << 20);
    }
}

package io.ringformer.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.worker.exchange.LocalExchange;
import io.ringformer.zoo.family.Artifact;
import io.ringformer.zoo.family.Split;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The vit family on real Fashion-MNIST (Debian's dataset-fashion-mnist, which launch/fetch-data.sh installs). */
class VitTrainingTest {

    static TrainConfig tiny(String... overrides) {
        return TrainConfig.override(TrainConfig.load(Path.of("../configs/vit-fashion-tiny.yaml"), List.of()),
                List.of(overrides));
    }

    static Trainer trainer(TrainConfig config) {
        Artifact artifact = TrainingRun.fitArtifact(config);
        return new Trainer(config, artifact, TrainingRun.openData(config, artifact), new LocalExchange());
    }

    /** Chance is 10% (ten balanced classes) and ln 10 = 2.303 nats; 120 steps of 32 images leave both far behind. */
    @Test
    void theTinyRecipeLearnsFashionMnist() {
        Trainer trainer = trainer(tiny());
        Map<String, Double> before = trainer.evaluate(Split.VAL);
        for (int i = 0; i < 120; i++) {
            trainer.trainStep();
        }
        Map<String, Double> after = trainer.evaluate(Split.VAL);
        System.out.println("vit-fashion-tiny, 120 steps, on the 10,000 test images: " + before + " → " + after);
        assertEquals(Math.log(10), before.get("loss"), 0.05, "a fresh head (zeros) predicts uniformly");
        assertTrue(after.get("loss") < before.get("loss") - 0.4, before + " → " + after);
        assertTrue(after.get("accuracy") > 0.25, "top-1 " + after.get("accuracy") + ", chance 0.10");
    }

    /** Augmentation (random crops) and dropout are functions of (seed, step, row): a resumed run repeats them. */
    @Test
    void restoredStateContinuesBitIdentically() {
        TrainConfig config = tiny("data.crop_padding=2", "model.dropout=0.1");
        Trainer straight = trainer(config);
        List<Double> expected = new ArrayList<>();
        Trainer.State middle = null;
        for (int i = 0; i < 6; i++) {
            if (i == 3) {
                middle = straight.state();
            }
            expected.add(straight.trainStep().loss());
        }
        Trainer resumed = trainer(config);
        resumed.restore(middle);
        for (int i = 3; i < 6; i++) {
            assertEquals(expected.get(i), resumed.trainStep().loss(), 0.0, "step " + i);
        }
        assertArrayEquals(straight.parameters(), resumed.parameters());
    }
}

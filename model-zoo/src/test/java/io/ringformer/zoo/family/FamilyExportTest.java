package io.ringformer.zoo.family;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.bert.BertFamily;
import io.ringformer.zoo.text.WordPieceTokenizer;
import io.ringformer.zoo.vision.ImageDataset;
import io.ringformer.zoo.vision.ImageStatistics;
import io.ringformer.zoo.vit.VitFamily;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Each family's {@link Export} against its model's declared parameters, with no checkpoint and no graph: every
 * parameter is read, every step fits its source, and the shapes are the other framework's (ExportIT checks the values
 * and PyTorch's logits on trained models).
 */
class FamilyExportTest {

    private static final String TEXT = "Call me Ishmael. Some years ago, never mind how long precisely, having little "
            + "or no money in my purse, and nothing particular to interest me on shore, I thought I would sail about.";

    @Test
    void bertExportsEveryParameterAsNnLinearAndSplitsQkv() {
        BertFamily family = new BertFamily();
        MapSettings config = settings(family, Map.of("model.n_layer", 3, "model.n_embd", 48, "model.n_head", 3));
        Map<String, long[]> shapes = exportedShapes(family, config, WordPieceTokenizer.train(TEXT, 60));
        assertEquals(5 + 3 * 16 + 11, shapes.size());
        assertArrayEquals(new long[] {48, 48}, shapes.get("bert.encoder.layer.2.attention.self.value.weight"));
        assertArrayEquals(new long[] {48}, shapes.get("bert.encoder.layer.2.attention.self.value.bias"));
        assertArrayEquals(new long[] {4 * 48, 48}, shapes.get("bert.encoder.layer.0.intermediate.dense.weight"));
        assertArrayEquals(new long[] {2, 48}, shapes.get("cls.seq_relationship.weight"));
        assertTrue(family.export(config, WordPieceTokenizer.train(TEXT, 60)).configJson()
                .contains("\"model_type\": \"ringformer-prenorm-bert\""));
    }

    @Test
    void vitExportsEveryParameterWithAConvolutionKernel() {
        VitFamily family = new VitFamily();
        MapSettings config = settings(family, Map.of("model.patch_size", 4, "model.n_embd", 24, "model.n_head", 2,
                "model.n_layer", 1));
        ImageStatistics statistics = new ImageStatistics(new double[] {0.13}, new double[] {0.31}, 28, 28, 1,
                ImageDataset.MNIST_CLASSES);
        Map<String, long[]> shapes = exportedShapes(family, config, statistics);
        assertEquals(4 + 16 + 4, shapes.size());
        assertArrayEquals(new long[] {24, 1, 4, 4}, shapes.get("vit.embeddings.patch_embeddings.projection.weight"));
        assertArrayEquals(new long[] {1, 1, 24}, shapes.get("vit.embeddings.cls_token"));
        assertArrayEquals(new long[] {1, 7 * 7 + 1, 24}, shapes.get("vit.embeddings.position_embeddings"));
        assertArrayEquals(new long[] {10, 24}, shapes.get("classifier.weight"));
        assertTrue(family.export(config, statistics).configJson().contains("\"9\" : \"9\""));
    }

    @Test
    void encodersWithAnotherAttentionTypeAreRefusedNamingTheKey() {
        BertFamily bert = new BertFamily();
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> bert.export(
                settings(bert, Map.of("attention.type", "linear")), WordPieceTokenizer.train(TEXT, 60)));
        assertTrue(refused.getMessage().contains("attention.type linear"), refused.getMessage());
        VitFamily vit = new VitFamily();
        refused = assertThrows(IllegalArgumentException.class, () -> vit.export(
                settings(vit, Map.of("attention.type", "sliding_window")), null));
        assertTrue(refused.getMessage().contains("attention.type sliding_window"), refused.getMessage());
    }

    private static MapSettings settings(ModelFamily family, Map<String, Object> changes) {
        MapSettings settings = MapSettings.defaults(family.keys());
        settings.values().putAll(changes);
        return settings;
    }

    /** The export's tensors by name with their shapes, after checking that they read every parameter, no other. */
    private static Map<String, long[]> exportedShapes(ModelFamily family, Settings config, Artifact artifact) {
        Model model = family.build(config, artifact, 1, false, MixedPrecision.FP32);
        Export export = family.export(config, artifact);
        Map<String, long[]> shapes = new HashMap<>();
        Set<String> read = new HashSet<>();
        for (Export.Tensor tensor : export.tensors()) {
            shapes.put(tensor.name(), tensor.shape(model.parameters().get(tensor.source()).shape()));
            read.add(tensor.source());
        }
        assertEquals(export.tensors().size(), shapes.size(), "a name written twice");
        assertEquals(Set.copyOf(model.parameters().names()), read);
        return shapes;
    }
}

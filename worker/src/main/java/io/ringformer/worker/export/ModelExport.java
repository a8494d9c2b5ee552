package io.ringformer.worker.export;

import io.ringformer.worker.ConfigException;
import io.ringformer.worker.FlatParameters;
import io.ringformer.worker.TrainedModel;
import io.ringformer.zoo.family.Export;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A trained model written for another framework: its weights as safetensors under the names its family's
 * {@link Export} gives, each cut, transposed or reshaped as the export says ({@link Export.Tensor}), with that
 * framework's {@code config.json} and the model's preprocessing file (tokenizer, image statistics) beside them.
 */
public final class ModelExport {

    private ModelExport() {}

    /**
     * Writes {@code file} and, in its directory, {@code config.json} and the artifact (tokenizer or image statistics); returns the paths written.
     *
     * @throws ConfigException when the model's family or config has no exported form
     */
    public static List<Path> write(TrainedModel model, Path file) throws IOException {
        Export export;
        try {
            export = model.config().family().export(model.config(), model.artifact());
        } catch (IllegalArgumentException e) {
            throw new ConfigException("cannot export " + model.checkpoint().directory() + ": " + e.getMessage());
        }
        float[] flat = model.checkpoint().state().params();
        Map<String, FlatParameters.Segment> segments = new LinkedHashMap<>();
        for (FlatParameters.Segment segment : model.layout().segments()) {
            segments.put(segment.name(), segment);
        }
        Set<String> sources = new LinkedHashSet<>();
        export.tensors().forEach(tensor -> sources.add(tensor.source()));
        if (!segments.keySet().equals(sources)) {
            throw new IllegalStateException("the export reads " + sources + " but the model has " + segments.keySet());
        }
        Map<String, Safetensors.Tensor> tensors = new LinkedHashMap<>();
        for (Export.Tensor tensor : export.tensors()) {
            FlatParameters.Segment segment = segments.get(tensor.source());
            float[] values = Arrays.copyOfRange(flat, segment.offset(), segment.offset() + segment.length());
            if (tensors.put(tensor.name(), new Safetensors.Tensor(tensor.shape(segment.shape()),
                    tensor.values(segment.shape(), values))) != null) {
                throw new IllegalStateException("the export names " + tensor.name() + " twice");
            }
        }
        Path directory = file.toAbsolutePath().getParent();
        Files.createDirectories(directory);
        Safetensors.write(file, tensors, Map.of("format", "pt", "source", "ringformer " + export.format(),
                "checkpoint", model.checkpoint().directory().getFileName().toString()));
        Path config = directory.resolve("config.json");
        Files.writeString(config, export.configJson());
        Path artifact = directory.resolve(model.checkpoint().artifactFile().getFileName());
        Files.copy(model.checkpoint().artifactFile(), artifact, StandardCopyOption.REPLACE_EXISTING);
        return List.of(file, config, artifact);
    }
}

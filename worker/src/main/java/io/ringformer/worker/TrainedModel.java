package io.ringformer.worker;

import io.ringformer.worker.checkpoint.Checkpoint;
import io.ringformer.worker.checkpoint.CheckpointException;
import io.ringformer.worker.checkpoint.CheckpointStore;
import io.ringformer.worker.exchange.LocalExchange;
import io.ringformer.zoo.data.TextDataset;
import io.ringformer.zoo.gpt.Gpt;
import io.ringformer.zoo.gpt.Sampler;
import io.ringformer.zoo.text.CharTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.nd4j.linalg.api.buffer.DataType;

/** A model loaded from a checkpoint, for sampling and evaluation. */
public final class TrainedModel {

    private final Checkpoint checkpoint;
    private final TrainConfig config;
    private final CharTokenizer tokenizer;

    private TrainedModel(Checkpoint checkpoint, TrainConfig config, CharTokenizer tokenizer) {
        this.checkpoint = checkpoint;
        this.config = config;
        this.tokenizer = tokenizer;
    }

    /**
     * @param path a checkpoint directory ({@code step-…}), or a run directory or its {@code checkpoints/} folder
     *             (then the newest valid checkpoint)
     */
    public static TrainedModel load(Path path, Consumer<String> warnings) {
        if (!Files.isDirectory(path)) {
            throw new CheckpointException("checkpoint not found: " + path);
        }
        Checkpoint checkpoint = Files.exists(path.resolve(CheckpointStore.MANIFEST))
                || CheckpointStore.stepOf(path) >= 0
                ? CheckpointStore.load(path) : CheckpointStore.at(path).latestValid(warnings);
        TrainConfig config = TrainConfig.parse(checkpoint.configYaml(), checkpoint.directory() + "/config.yaml");
        try {
            return new TrainedModel(checkpoint, config, CharTokenizer.load(checkpoint.tokenizerFile()));
        } catch (IOException | IllegalArgumentException e) {
            throw new CheckpointException("cannot read the tokenizer of " + checkpoint.directory() + ": "
                    + e.getMessage());
        }
    }

    public Checkpoint checkpoint() {
        return checkpoint;
    }

    public TrainConfig config() {
        return config;
    }

    /** Continues {@code prompt} by {@code tokens} characters. */
    public String generate(String prompt, int tokens, double temperature, int topK, long seed) {
        Gpt gpt = Gpt.build(Trainer.modelConfig(config, tokenizer.vocabSize()), DataType.FLOAT, 0, false);
        FlatParameters layout = FlatParameters.of(gpt.graph(), gpt.parameterNames(), name -> false);
        if (layout.size() != checkpoint.state().params().length) {
            throw new CheckpointException("checkpoint " + checkpoint.directory() + " holds "
                    + checkpoint.state().params().length + " parameters, but the model its config.yaml describes has "
                    + layout.size());
        }
        layout.write(checkpoint.state().params(), gpt.graph());
        int[] prompted;
        try {
            prompted = tokenizer.encode(prompt);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("the prompt: " + e.getMessage());
        }
        return tokenizer.decode(new Sampler(gpt).sample(prompted, tokens, temperature, topK, seed));
    }

    /** Mean loss on the validation split over {@code iterations} fixed batches, with the data it was trained on. */
    public double validationLoss(int iterations) {
        String text = TrainingRun.readText(Path.of(config.getString("data.path")));
        TextDataset data;
        try {
            data = TextDataset.of(text, tokenizer, config.getDouble("data.train_fraction"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("data.path " + config.getString("data.path") + " does not fit the checkpoint's "
                    + "tokenizer: " + e.getMessage());
        }
        if (iterations < 1) {
            throw new ConfigException("evaluation needs at least one batch, got " + iterations);
        }
        Trainer trainer = new Trainer(config.with("eval.iters", iterations), data, tokenizer.vocabSize(),
                new LocalExchange());
        trainer.restore(checkpoint.state());
        return trainer.evaluate(TextDataset.Split.VAL);
    }
}

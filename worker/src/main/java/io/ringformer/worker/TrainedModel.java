package io.ringformer.worker;

import io.ringformer.worker.checkpoint.Checkpoint;
import io.ringformer.worker.checkpoint.CheckpointException;
import io.ringformer.worker.checkpoint.CheckpointStore;
import io.ringformer.worker.exchange.LocalExchange;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.family.Artifact;
import io.ringformer.zoo.family.Model;
import io.ringformer.zoo.family.Split;
import io.ringformer.zoo.gpt.Gpt;
import io.ringformer.zoo.gpt.Sampler;
import io.ringformer.zoo.text.CharTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.IntStream;

/**
 * A model loaded from a checkpoint, of any family: its config, its artifact, and its inference graph with the
 * trained parameters, for the commands that use it ({@code generate}, {@code predict-next}, {@code fill-mask}, {@code classify},
 * {@code eval}).
 */
public final class TrainedModel {

    private final Checkpoint checkpoint;
    private final TrainConfig config;
    private final Artifact artifact;
    private Model model;
    private FlatParameters layout;

    private TrainedModel(Checkpoint checkpoint, TrainConfig config, Artifact artifact) {
        this.checkpoint = checkpoint;
        this.config = config;
        this.artifact = artifact;
    }

    /**
     * @param path a checkpoint directory ({@code step-…}), or a run directory or its {@code checkpoints/} folder
     *             (then the newest valid checkpoint)
     */
    public static TrainedModel load(Path path, Consumer<String> warnings) {
        Checkpoint checkpoint = CheckpointStore.open(path, warnings);
        TrainConfig config = TrainConfig.parse(checkpoint.configYaml(), checkpoint.directory() + "/config.yaml");
        return new TrainedModel(checkpoint, config,
                TrainingRun.loadArtifact(config.family(), checkpoint.artifactFile()));
    }

    public Checkpoint checkpoint() {
        return checkpoint;
    }

    public TrainConfig config() {
        return config;
    }

    /** The family's preprocessing: a tokenizer, image statistics. */
    public Artifact artifact() {
        return artifact;
    }

    /** The inference graph (no dropout, fp32) holding the trained parameters; built once. */
    public Model model() {
        if (model == null) {
            Model built = config.family().build(config, artifact, 0, false, MixedPrecision.FP32);
            layout(built).write(checkpoint.state().params(), built.graph());
            model = built;
        }
        return model;
    }

    /** Where each parameter sits in the checkpoint's flat vector (no graph is built); computed once. */
    public FlatParameters layout() {
        if (layout == null) {
            layout(model != null ? model : config.family().build(config, artifact, 0, false, MixedPrecision.FP32));
        }
        return layout;
    }

    private FlatParameters layout(Model built) {
        if (layout == null) {
            FlatParameters of = FlatParameters.of(built.parameters(), built.parameterNames(), name -> false);
            if (of.size() != checkpoint.state().params().length) {
                throw new CheckpointException("checkpoint " + checkpoint.directory() + " holds "
                        + checkpoint.state().params().length + " parameters, but the model its config.yaml "
                        + "describes has " + of.size());
            }
            layout = of;
        }
        return layout;
    }

    /** Whether {@link #generate} can continue text with this model (a GPT; a BERT fills masks instead). */
    public boolean generatesText() {
        return model() instanceof Gpt;
    }

    /** Continues {@code prompt} by {@code tokens} characters: for a GPT checkpoint. */
    public String generate(String prompt, int tokens, double temperature, int topK, long seed) {
        Sampler sampler = new Sampler(gpt("generate"));
        return ((CharTokenizer) artifact).decode(sampler.sample(encode(prompt), tokens, temperature, topK, seed));
    }

    /** One candidate for the next token: its text, probability and logit. */
    public record Prediction(String token, double probability, double logit) {}

    /** The {@code top} likeliest tokens after {@code prompt}, likeliest first: for a GPT checkpoint. */
    public List<Prediction> predictNext(String prompt, int top) {
        double[] logits = new Sampler(gpt("predict-next")).nextLogits(encode(prompt));           // [V]
        double max = Arrays.stream(logits).max().orElseThrow();
        double sum = Arrays.stream(logits).map(l -> Math.exp(l - max)).sum();
        CharTokenizer tokenizer = (CharTokenizer) artifact;
        return IntStream.range(0, logits.length).boxed()
                .sorted(Comparator.comparingDouble((Integer id) -> -logits[id]))
                .limit(top)
                .map(id -> new Prediction(tokenizer.decode(new int[] {id}), Math.exp(logits[id] - max) / sum,
                        logits[id]))
                .toList();
    }

    private Gpt gpt(String command) {
        if (!(model() instanceof Gpt gpt)) {
            throw new ConfigException(command + " continues text with a gpt model; checkpoint "
                    + checkpoint.directory() + " holds a " + config.family().name()
                    + " model (see the README's recipes for its command)");
        }
        return gpt;
    }

    private int[] encode(String prompt) {
        try {
            return ((CharTokenizer) artifact).encode(prompt);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("the prompt: " + e.getMessage());
        }
    }

    /**
     * The model's metrics on the held-out split (the loss first), with the data it was trained on.
     *
     * @param iterations evaluation batches, for families that sample them
     */
    public Map<String, Double> evaluate(int iterations) {
        if (iterations < 1) {
            throw new ConfigException("evaluation needs at least one batch, got " + iterations);
        }
        TrainConfig evaluation = config.with("eval.iters", iterations);
        Trainer trainer = new Trainer(evaluation, artifact, TrainingRun.openData(evaluation, artifact),
                new LocalExchange());
        trainer.restore(checkpoint.state());
        return trainer.evaluate(Split.VAL);
    }
}

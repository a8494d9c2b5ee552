package io.ringformer.launch;

import io.ringformer.worker.TrainedModel;
import io.ringformer.zoo.family.ModelFamily;
import io.ringformer.zoo.family.TransformerBlock;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ringformer attention-map}: a checkpoint's attention weights on a text, drawn as heatmaps. */
@Command(name = "attention-map", mixinStandardHelpOptions = true,
        description = "Draw a gpt or bert checkpoint's attention weights on a text as a PNG heatmap per head.")
public final class AttentionMapCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "A checkpoint directory, or a run directory (its newest valid checkpoint).")
    Path checkpoint;

    @Option(names = "--text", required = true, description = "The text to attend over (cut at the model's length).")
    String text;

    @Option(names = "--layer", description = "Block to draw, from 0 (default: the last).")
    Integer layer;

    @Option(names = "--head", description = "Head to draw, from 0 (default: every head, one panel each).")
    Integer head;

    @Option(names = "--out", required = true, paramLabel = "FILE.png", description = "The PNG to write.")
    Path out;

    @Override
    public Integer call() throws IOException {
        TrainedModel trained = TrainedModel.load(checkpoint, System.err::println);
        ModelFamily family = trained.config().family();
        int layers = trained.config().getInt("model.n_layer");
        int heads = trained.config().getInt("model.n_head");
        int l = layer == null ? layers - 1 : layer;
        if (l < 0 || l >= layers) {
            throw new UsageException("--layer " + l + ": this model has layers 0 to " + (layers - 1));
        }
        if (head != null && (head < 0 || head >= heads)) {
            throw new UsageException("--head " + head + ": this model has heads 0 to " + (heads - 1));
        }
        ModelFamily.TextRow row;
        try {
            row = family.textRow(trained.config(), trained.artifact(), text).orElseThrow(() -> new UsageException(
                    "attention-map reads text; checkpoint " + trained.checkpoint().directory() + " holds a "
                            + family.name() + " model"));
        } catch (IllegalArgumentException e) {
            throw new UsageException("--text: " + e.getMessage());
        }
        String name = TransformerBlock.attentionMap(l);
        INDArray weights = trained.model().graph().output(trained.model().feed(row.batch(), 0, 1), name)
                .get(name);                                                                   // [1, H, T, T]
        int n = row.labels().size();
        List<Integer> drawn = head == null ? java.util.stream.IntStream.range(0, heads).boxed().toList()
                : List.of(head);
        float[][][] maps = new float[drawn.size()][n][n];
        List<String> titles = new ArrayList<>();
        for (int p = 0; p < drawn.size(); p++) {
            for (int t = 0; t < n; t++) {
                for (int s = 0; s < n; s++) {
                    maps[p][t][s] = weights.getFloat(0, drawn.get(p), t, s);
                }
            }
            titles.add("layer " + l + ", head " + drawn.get(p));
        }
        String attention = trained.config().getString("attention.type");
        String rule = AttentionMapPlot.write(out, maps, row.labels(), titles, family.name() + ", attention "
                + attention + ", " + n + " tokens");
        spec.commandLine().getOut().println("wrote " + out + ": layer " + l + ", " + drawn.size() + " head(s), " + n
                + " tokens (" + rule + ")");
        spec.commandLine().getOut().flush();
        return 0;
    }
}

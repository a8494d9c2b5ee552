package io.ringformer.launch;

import io.ringformer.worker.TrainedModel;
import io.ringformer.zoo.family.ModelFamily;
import io.ringformer.zoo.family.TransformerBlock;
import io.ringformer.zoo.vision.ImageStatistics;
import io.ringformer.zoo.vision.PngImages;
import io.ringformer.zoo.vit.Vit;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ringformer attention-map}: a checkpoint's attention weights on a text, drawn as heatmaps. */
@Command(name = "attention-map", mixinStandardHelpOptions = true,
        description = "Draw a checkpoint's attention weights as a PNG, a panel per head: a gpt or bert model's on a "
                + "text (queries × keys), a vit model's [CLS] row over the patches of an image.")
public final class AttentionMapCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "A checkpoint directory, or a run directory (its newest valid checkpoint).")
    Path checkpoint;

    @Option(names = "--text", description = "gpt, bert: the text to attend over (cut at the model's length).")
    String text;

    @Option(names = "--image", paramLabel = "IMAGE.png",
            description = "vit: the image whose [CLS] attention over the patches is drawn on it.")
    Path image;

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
        if ((text == null) == (image == null)) {
            throw new UsageException("give --text (gpt, bert) or --image (vit)");
        }
        List<Integer> drawn = head == null ? java.util.stream.IntStream.range(0, heads).boxed().toList()
                : List.of(head);
        if (image != null) {
            return drawImage(trained, l, drawn);
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

    /** ViT: the [CLS] query's weights over the patches, on the image, a panel per head. */
    private int drawImage(TrainedModel trained, int l, List<Integer> drawn) throws IOException {
        if (!(trained.model() instanceof Vit vit)) {
            throw new UsageException("--image needs a vit checkpoint; " + trained.checkpoint().directory()
                    + " holds a " + trained.config().family().name() + " model (give it --text)");
        }
        Vit.Config shape = vit.config();
        float[] pixels;
        try {
            pixels = PngImages.read(image, shape.height(), shape.width());
        } catch (IOException | IllegalArgumentException e) {
            throw new UsageException("cannot read " + image + ": " + e.getMessage());
        }
        float[] normalized = pixels.clone();
        ((ImageStatistics) trained.artifact()).normalize(normalized);
        String name = TransformerBlock.attentionMap(l);
        INDArray weights = vit.graph().output(Map.of(Vit.PIXELS, Nd4j.createFromArray(normalized)
                .reshape(1, normalized.length), Vit.LABELS, Nd4j.createFromArray(new int[][] {{0}})), List.of(name))
                .get(name);                                                                   // [1, H, T, T]
        int rows = shape.height() / shape.patch();
        int columns = shape.width() / shape.patch();
        float[][][] grids = new float[drawn.size()][rows][columns];
        List<String> titles = new ArrayList<>();
        for (int p = 0; p < drawn.size(); p++) {
            for (int patch = 0; patch < rows * columns; patch++) {
                grids[p][patch / columns][patch % columns] = weights.getFloat(0, drawn.get(p), 0, 1 + patch);
            }
            titles.add("layer " + l + ", head " + drawn.get(p));
        }
        AttentionMapPlot.writeOverImage(out, pixels, shape.height(), shape.width(), grids, titles,
                "vit, [CLS] attention over " + rows + " × " + columns + " patches (red: more; from each head's "
                        + "smallest weight to its largest)");
        spec.commandLine().getOut().println("wrote " + out + ": layer " + l + ", " + drawn.size() + " head(s), [CLS] "
                + "over " + rows * columns + " patches");
        spec.commandLine().getOut().flush();
        return 0;
    }
}

package io.ringformer.launch;

import io.ringformer.protocol.InputException;
import io.ringformer.worker.TrainedModel;
import io.ringformer.zoo.vision.ImageStatistics;
import io.ringformer.zoo.vision.PngImages;
import io.ringformer.zoo.vit.Classifier;
import io.ringformer.zoo.vit.Vit;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ringformer classify}: a vit checkpoint's label for each image, with its probability. */
@Command(name = "classify", mixinStandardHelpOptions = true,
        description = "Classify images (PNG, any size; made 28 × 28 gray) with a vit checkpoint.")
public final class ClassifyCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "A checkpoint directory, or a run directory (its newest valid checkpoint).")
    Path checkpoint;

    @Option(names = "--top-k", defaultValue = "1", description = "Labels to print per image (default ${DEFAULT-VALUE}).")
    int topK;

    @Parameters(arity = "1..*", paramLabel = "IMAGE.png", description = "Images to classify.")
    List<Path> images;

    @Override
    public Integer call() {
        if (topK < 1) {
            throw new InputException("--top-k must be at least 1, got " + topK);
        }
        TrainedModel model = TrainedModel.load(checkpoint, System.err::println);
        if (!(model.model() instanceof Vit vit)) {
            throw new InputException("classify needs a vit checkpoint; " + model.checkpoint().directory() + " holds a "
                    + model.config().family().name() + " model");
        }
        Classifier classifier = new Classifier(vit, (ImageStatistics) model.artifact());
        for (Path image : images) {
            float[] pixels;
            try {
                pixels = PngImages.read(image);
            } catch (IOException | IllegalArgumentException e) {
                throw new InputException("cannot read " + image + ": " + e.getMessage());
            }
            StringBuilder line = new StringBuilder(image.toString());
            for (Classifier.Guess guess : classifier.classify(pixels).subList(0, Math.min(topK, 10))) {
                line.append(String.format(Locale.ROOT, "\t%s %.3f", guess.label(), guess.probability()));
            }
            System.out.println(line);
        }
        return 0;
    }
}

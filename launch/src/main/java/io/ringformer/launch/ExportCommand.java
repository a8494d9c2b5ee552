package io.ringformer.launch;

import io.ringformer.worker.TrainedModel;
import io.ringformer.worker.export.ModelExport;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ringformer export}: a checkpoint's weights for another framework, as its family's export says
 * ({@code ModelFamily.export}): safetensors under Hugging Face names, a config.json and the preprocessing file. A gpt
 * model becomes GPT2LMHeadModel, a vit ViTForImageClassification, a bert BERT's names for a pre-LayerNorm model that
 * no transformers class computes (README, "Leaving ringformer"); {@code launch/export/torch_gpt2.py},
 * {@code torch_vit.py} and {@code torch_bert.py} load them into PyTorch in a few lines.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Write a checkpoint's weights in another framework's format (safetensors under Hugging Face "
                + "names: GPT-2, BERT (pre-LN), ViT).")
public final class ExportCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "A checkpoint directory, or a run directory (its newest valid checkpoint).")
    Path checkpoint;

    @Option(names = "--format", defaultValue = "safetensors", description = "safetensors (the only one so far).")
    String format;

    @Option(names = "--out", required = true, paramLabel = "FILE",
            description = "The weights file; config.json and the tokenizer or image statistics go beside it.")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (!format.equals("safetensors")) {
            throw new UsageException("--format " + format + " is not supported; use --format safetensors");
        }
        TrainedModel model = TrainedModel.load(checkpoint, System.err::println);
        List<Path> written = ModelExport.write(model, out);
        System.out.println("exported " + model.checkpoint().directory() + " (" + model.layout().size()
                + " parameters) to " + String.join(", ", written.stream().map(Path::toString).toList()));
        return 0;
    }
}

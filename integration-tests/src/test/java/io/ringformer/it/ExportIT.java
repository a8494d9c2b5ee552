package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.worker.FlatParameters;
import io.ringformer.worker.TrainedModel;
import io.ringformer.worker.export.Safetensors;
import io.ringformer.zoo.gpt.Gpt;
import io.ringformer.zoo.text.CharTokenizer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code ringformer export}: a trained gpt leaves as Hugging Face GPT-2 safetensors. Read back with our reader, and
 * loaded into PyTorch by {@code launch/export/torch_gpt2.py} (Debian python3-torch, which .ci/run installs), whose
 * logits must equal ringformer's.
 */
class ExportIT {

    private static final String TEXT = "Call me Ishmael. Some years ago";   // 31 characters, inside block 32

    @Test
    @Timeout(600)
    void anExportedGptReadsBackAndGivesPyTorchTheSameLogits(@TempDir Path dir) throws Exception {
        Path run = trainTiny(dir, 40, "model.tie_embeddings=false");
        Path weights = dir.resolve("export").resolve("model.safetensors");
        String out = Cli.run(dir.resolve("export.log"), 0, 120, "export", "--checkpoint", run.toString(),
                "--format", "safetensors", "--out", weights.toString());
        assertTrue(out.contains("exported"), out);
        assertTrue(Files.exists(weights.resolveSibling("config.json")) && Files.exists(weights.resolveSibling("tokenizer.txt")));

        // Our reader: every parameter under its GPT-2 name, with its shape and its values from the checkpoint.
        TrainedModel model = TrainedModel.load(run, System.err::println);
        Map<String, Safetensors.Tensor> tensors = Safetensors.read(weights).tensors();
        float[] flat = model.checkpoint().state().params();
        Map<String, String> names = Map.of("wte", "transformer.wte.weight", "wpe", "transformer.wpe.weight",
                "h1/attn/w_qkv", "transformer.h.1.attn.c_attn.weight", "h0/mlp/b_proj", "transformer.h.0.mlp.c_proj.bias",
                "ln_f/gain", "transformer.ln_f.weight", "lm_head", "lm_head.weight");
        assertEquals(2 + 2 * 12 + 2 + 1, tensors.size(), tensors.keySet().toString());
        for (FlatParameters.Segment segment : model.layout().segments()) {
            if (!names.containsKey(segment.name())) {
                continue;
            }
            Safetensors.Tensor tensor = tensors.get(names.get(segment.name()));
            assertArrayEquals(segment.shape(), tensor.shape(), segment.name());
            assertArrayEquals(Arrays.copyOfRange(flat, segment.offset(), segment.offset() + segment.length()),
                    tensor.values(), segment.name());
        }
        assertArrayEquals(new long[] {32, 3 * 32}, tensors.get("transformer.h.0.attn.c_attn.weight").shape());

        // PyTorch: the same logits at every position.
        CharTokenizer tokenizer = (CharTokenizer) model.artifact();
        int[] tokens = tokenizer.encode(TEXT);
        int block = 32;
        int[][] window = new int[1][block];
        System.arraycopy(tokens, 0, window[0], 0, tokens.length);
        Map<String, INDArray> feed = new HashMap<>();
        feed.put(Gpt.TOKENS, Nd4j.createFromArray(window));
        feed.put(Gpt.TARGETS, Nd4j.createFromArray(window));
        float[][] ours = model.model().graph().output(feed, Gpt.LOGITS).get(Gpt.LOGITS).toFloatMatrix();   // [T, V]
        Path logits = dir.resolve("torch.f32");
        Process python = new ProcessBuilder("/usr/bin/python3", "../launch/export/torch_gpt2.py", weights.toString(),
                "--text", TEXT, "--logits", logits.toString()).redirectErrorStream(true).start();
        String said = new String(python.getInputStream().readAllBytes());
        assertEquals(0, python.waitFor(), said);
        ByteBuffer theirs = ByteBuffer.wrap(Files.readAllBytes(logits)).order(ByteOrder.LITTLE_ENDIAN);
        int vocab = ours[0].length;
        assertEquals(tokens.length * vocab * 4, theirs.capacity());
        double worst = 0;
        for (int t = 0; t < tokens.length; t++) {
            for (int v = 0; v < vocab; v++) {
                worst = Math.max(worst, Math.abs(ours[t][v] - theirs.getFloat(4 * (t * vocab + v))));
            }
        }
        System.out.printf("PyTorch against ringformer, %d positions × %d logits: max |Δ| = %.3g%n", tokens.length,
                vocab, worst);
        assertTrue(worst < 1e-4, "logits differ by " + worst);
    }

    @Test
    @Timeout(300)
    void aModelWithoutAGpt2FormIsRefusedNamingTheKey(@TempDir Path dir) throws Exception {
        Path run = trainTiny(dir, 2, "model.positions=rope", "eval.interval=2", "checkpoint.interval=2");
        String out = Cli.run(dir.resolve("export.log"), 2, 120, "export", "--checkpoint", run.toString(),
                "--out", dir.resolve("x.safetensors").toString());
        assertTrue(out.contains("learned positions only") && out.contains("model.positions rope"), out);
        assertTrue(!out.contains("\tat "), "no stack trace: " + out);
        assertTrue(!Files.exists(dir.resolve("x.safetensors")));
    }

    /** Trains gpt-char-tiny on Moby Dick for {@code steps} with {@code settings} (key=value); returns the run. */
    private static Path trainTiny(Path dir, int steps, String... settings) throws Exception {
        Path run = dir.resolve("run");
        List<String> arguments = new ArrayList<>(List.of("train", "--config", "../configs/gpt-char-tiny.yaml", "--out",
                run.toString(), "--sample", "0", "--set", "data.path=" + Cli.mobyDick(), "--set",
                "train.max_iters=" + steps));
        for (String setting : settings) {
            arguments.addAll(List.of("--set", setting));
        }
        Cli.run(dir.resolve("train.log"), 0, 300, arguments.toArray(String[]::new));
        return run;
    }
}

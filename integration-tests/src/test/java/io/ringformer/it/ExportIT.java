package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.worker.FlatParameters;
import io.ringformer.worker.TrainedModel;
import io.ringformer.worker.export.Safetensors;
import io.ringformer.zoo.bert.Bert;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.gpt.Gpt;
import io.ringformer.zoo.text.CharTokenizer;
import io.ringformer.zoo.text.WordPieceTokenizer;
import io.ringformer.zoo.vision.ImageDataset;
import io.ringformer.zoo.vision.ImageStatistics;
import io.ringformer.zoo.vit.Vit;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code ringformer export} of each family: a trained gpt leaves as Hugging Face GPT-2 safetensors, a bert under
 * Hugging Face BERT names (pre-LN), a vit as Hugging Face ViTForImageClassification. Each is read back with our
 * reader (names, shapes, values against the checkpoint, transposes and splits checked index by index) and loaded into
 * PyTorch by its {@code launch/export/torch_*.py} (Debian python3-torch, which .ci/run installs), whose logits must
 * equal those of ringformer's graph within 1e-4.
 */
class ExportIT {

    private static final String TEXT = "Call me Ishmael. Some years ago";   // 31 characters, inside block 32

    @Test
    @Timeout(600)
    void anExportedGptReadsBackAndGivesPyTorchTheSameLogits(@TempDir Path dir) throws Exception {
        Path run = trainTiny(dir, "gpt-char-tiny", 40, "model.tie_embeddings=false");
        Path weights = export(dir, run, "tokenizer.txt");

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
        python("torch_gpt2.py", weights.toString(), "--text", TEXT, "--logits", logits.toString());
        System.out.printf("gpt: PyTorch against ringformer, %d positions × %d logits: max |Δ| = %.3g%n",
                tokens.length, ours[0].length, assertClose(Arrays.copyOf(ours, tokens.length), logits));
    }

    @Test
    @Timeout(300)
    void aModelWithoutAGpt2FormIsRefusedNamingTheKey(@TempDir Path dir) throws Exception {
        Path run = trainTiny(dir, "gpt-char-tiny", 2, "model.positions=rope");
        String out = Cli.run(dir.resolve("export.log"), 2, 120, "export", "--checkpoint", run.toString(),
                "--out", dir.resolve("x.safetensors").toString());
        assertTrue(out.contains("learned positions only") && out.contains("model.positions rope"), out);
        assertTrue(!out.contains("\tat "), "no stack trace: " + out);
        assertTrue(!Files.exists(dir.resolve("x.safetensors")));
    }

    @Test
    @Timeout(600)
    void anExportedBertReadsBackAndGivesPyTorchTheSameLogits(@TempDir Path dir) throws Exception {
        Path run = trainTiny(dir, "bert-mlm-tiny", 20);
        Path weights = export(dir, run, "tokenizer.json");
        TrainedModel model = TrainedModel.load(run, System.err::println);
        Map<String, Safetensors.Tensor> tensors = Safetensors.read(weights).tensors();
        Parameters ours = new Parameters(model);
        int d = 64;
        assertEquals(5 + 2 * 16 + 11, tensors.size(), tensors.keySet().toString());
        assertAsItIs(ours, "wte", tensors.get("bert.embeddings.word_embeddings.weight"));
        assertAsItIs(ours, "wse", tensors.get("bert.embeddings.token_type_embeddings.weight"));
        assertAsItIs(ours, "h1/ln_1/gain", tensors.get("bert.encoder.layer.1.attention.ln.weight"));
        assertAsItIs(ours, "ln_f/bias", tensors.get("bert.encoder.ln.bias"));
        assertAsItIs(ours, "mlm/bias", tensors.get("cls.predictions.bias"));
        String[] projections = {"query", "key", "value"};
        for (int i = 0; i < 3; i++) {                          // w_qkv [d, 3d] → query, key, value [d, d]
            String name = "bert.encoder.layer.0.attention.self." + projections[i];
            assertTransposed(ours, "h0/attn/w_qkv", i * d, tensors.get(name + ".weight"));
            assertArrayEquals(Arrays.copyOfRange(ours.values("h0/attn/b_qkv"), i * d, (i + 1) * d),
                    tensors.get(name + ".bias").values(), name);
        }
        assertTransposed(ours, "h1/mlp/w_fc", 0, tensors.get("bert.encoder.layer.1.intermediate.dense.weight"));
        assertTransposed(ours, "h1/mlp/w_proj", 0, tensors.get("bert.encoder.layer.1.output.dense.weight"));
        assertTransposed(ours, "mlm/w_dense", 0, tensors.get("cls.predictions.transform.dense.weight"));
        assertTransposed(ours, "nsp/w", 0, tensors.get("cls.seq_relationship.weight"));

        // One sentence with a [MASK], padded to the model's 32: logits at every position (pads included — their
        // queries still see the real keys only) and the NSP logits.
        WordPieceTokenizer tokenizer = (WordPieceTokenizer) model.artifact();
        int[] ids = tokenizer.encode("Call me [MASK]. Some years ago, never mind how long precisely");
        Bert bert = (Bert) model.model();
        int length = bert.config().seqLen();
        Batch batch = Bert.sentence(ids, length);
        int[] tokens = batch.ints(Bert.TOKENS);
        System.arraycopy(tokens, 0, batch.ints(Bert.MLM_TARGETS), 0, length);     // the head reads every position
        Map<String, INDArray> out = bert.graph().output(bert.feed(batch, 0, 1), List.of(Bert.LOGITS, Bert.NSP_LOGITS));
        float[][] mlm = out.get(Bert.LOGITS).toFloatMatrix();                                           // [T, V]
        float[][] nsp = out.get(Bert.NSP_LOGITS).toFloatMatrix();                                       // [1, 2]
        assertEquals(length, mlm.length);
        String row = Arrays.stream(Arrays.copyOf(tokens, ids.length + 2)).mapToObj(Integer::toString)
                .collect(Collectors.joining(","));
        Path mlmFile = dir.resolve("mlm.f32");
        Path nspFile = dir.resolve("nsp.f32");
        python("torch_bert.py", weights.toString(), "--ids", row, "--logits", mlmFile.toString(), "--nsp-logits",
                nspFile.toString());
        System.out.printf("bert: PyTorch against ringformer, %d positions (%d real) × %d MLM logits: max |Δ| = %.3g;"
                + " NSP: %.3g%n", length, ids.length + 2, mlm[0].length, assertClose(mlm, mlmFile),
                assertClose(nsp, nspFile));
    }

    @Test
    @Timeout(600)
    void anExportedVitReadsBackAndGivesPyTorchTheSameLogits(@TempDir Path dir) throws Exception {
        Path mnist = Path.of("../data/mnist").toAbsolutePath().normalize();
        Path run = trainTiny(dir, "vit-mnist-tiny", 20, "data.path=" + mnist);
        Path weights = export(dir, run, "image_stats.json");
        TrainedModel model = TrainedModel.load(run, System.err::println);
        Map<String, Safetensors.Tensor> tensors = Safetensors.read(weights).tensors();
        Parameters ours = new Parameters(model);
        int d = 32;
        int p = 7;
        assertEquals(4 + 2 * 16 + 4, tensors.size(), tensors.keySet().toString());
        assertArrayEquals(new long[] {1, 1, d}, tensors.get("vit.embeddings.cls_token").shape());
        assertArrayEquals(ours.values("cls"), tensors.get("vit.embeddings.cls_token").values());
        assertArrayEquals(new long[] {1, 17, d}, tensors.get("vit.embeddings.position_embeddings").shape());
        assertArrayEquals(ours.values("wpe"), tensors.get("vit.embeddings.position_embeddings").values());
        // The convolution's kernel [d, 1, P, P]: W[o, 0, i, j] is our GEMM's row i·P + j (row-major in the patch).
        Safetensors.Tensor kernel = tensors.get("vit.embeddings.patch_embeddings.projection.weight");
        assertArrayEquals(new long[] {d, 1, p, p}, kernel.shape());
        float[] embed = ours.values("patch/w_embed");                                                   // [P², d]
        for (int o = 0; o < d; o++) {
            for (int i = 0; i < p; i++) {
                for (int j = 0; j < p; j++) {
                    assertEquals(embed[(i * p + j) * d + o], kernel.values()[(o * p + i) * p + j]);
                }
            }
        }
        assertTransposed(ours, "h1/attn/w_qkv", 2 * d, tensors.get("vit.encoder.layer.1.attention.attention.value.weight"));
        assertTransposed(ours, "h0/attn/w_out", 0, tensors.get("vit.encoder.layer.0.attention.output.dense.weight"));
        assertAsItIs(ours, "h0/ln_2/gain", tensors.get("vit.encoder.layer.0.layernorm_after.weight"));
        assertAsItIs(ours, "ln_f/gain", tensors.get("vit.layernorm.weight"));
        assertTransposed(ours, "head/w_cls", 0, tensors.get("classifier.weight"));
        float[] head = tensors.get("classifier.weight").values();
        assertTrue(!Arrays.equals(head, new float[head.length]), "the head starts at zero; 20 steps must have moved it");

        // Eight real MNIST test digits: raw pixels to PyTorch (it normalises them), normalised ones to the graph.
        int count = 8;
        float[] pixels = new float[count * ImageDataset.PIXELS];
        ImageDataset.mnist(mnist).fillOrdered(ImageDataset.Split.TEST, 0, count, pixels, new int[count]);
        Path images = dir.resolve("digits.f32");
        ByteBuffer raw = ByteBuffer.allocate(pixels.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        raw.asFloatBuffer().put(pixels);
        Files.write(images, raw.array());
        float[] normalised = pixels.clone();
        ((ImageStatistics) model.artifact()).normalize(normalised);
        Map<String, INDArray> feed = Map.of(Vit.PIXELS, Nd4j.createFromArray(normalised).reshape(count, ImageDataset.PIXELS),
                Vit.LABELS, Nd4j.zeros(DataType.INT32, count, 1));
        float[][] logits = model.model().graph().output(feed, List.of(Vit.LOGITS)).get(Vit.LOGITS).toFloatMatrix();
        Path theirs = dir.resolve("vit.f32");
        python("torch_vit.py", weights.toString(), "--images", images.toString(), "--logits", theirs.toString());
        System.out.printf("vit: PyTorch against ringformer, %d MNIST digits × %d class logits: max |Δ| = %.3g%n",
                count, logits[0].length, assertClose(logits, theirs));
    }

    /**
     * Trains configs/{@code config}.yaml for {@code steps}, checkpointing and evaluating (one batch) at the last, with
     * {@code settings} (key=value, applied after {@code data.path} = Moby Dick, so a setting of it wins); returns the
     * run directory.
     */
    private static Path trainTiny(Path dir, String config, int steps, String... settings) throws Exception {
        Path run = dir.resolve("run");
        List<String> arguments = new ArrayList<>(List.of("train", "--config", "../configs/" + config + ".yaml",
                "--out", run.toString(), "--sample", "0", "--set", "data.path=" + Cli.mobyDick(), "--set",
                "train.max_iters=" + steps, "--set", "checkpoint.interval=" + steps, "--set", "eval.interval=" + steps,
                "--set", "eval.iters=1"));
        for (String setting : settings) {
            arguments.addAll(List.of("--set", setting));
        }
        Cli.run(dir.resolve("train.log"), 0, 300, arguments.toArray(String[]::new));
        return run;
    }

    /** {@code ringformer export} of {@code run}; asserts config.json and {@code artifact} land beside the weights. */
    private static Path export(Path dir, Path run, String artifact) throws Exception {
        Path weights = dir.resolve("export").resolve("model.safetensors");
        String out = Cli.run(dir.resolve("export.log"), 0, 120, "export", "--checkpoint", run.toString(),
                "--format", "safetensors", "--out", weights.toString());
        assertTrue(out.contains("exported"), out);
        assertTrue(Files.exists(weights.resolveSibling("config.json")), "config.json");
        assertTrue(Files.exists(weights.resolveSibling(artifact)), artifact);
        return weights;
    }

    /** Runs launch/export/{@code script} with /usr/bin/python3; asserts it exits 0. */
    private static void python(String script, String... arguments) throws Exception {
        List<String> command = new ArrayList<>(List.of("/usr/bin/python3", "../launch/export/" + script));
        command.addAll(List.of(arguments));
        Process python = new ProcessBuilder(command).redirectErrorStream(true).start();
        String said = new String(python.getInputStream().readAllBytes());
        assertEquals(0, python.waitFor(), said);
    }

    /** Asserts {@code file} holds {@code ours} (row-major little-endian float32) within 1e-4; returns the max |Δ|. */
    private static double assertClose(float[][] ours, Path file) throws Exception {
        ByteBuffer theirs = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int columns = ours[0].length;
        assertEquals(ours.length * columns * 4, theirs.capacity(), file.toString());
        double worst = 0;
        for (int r = 0; r < ours.length; r++) {
            for (int c = 0; c < columns; c++) {
                worst = Math.max(worst, Math.abs(ours[r][c] - theirs.getFloat(4 * (r * columns + c))));
            }
        }
        assertTrue(worst < 1e-4, file + ": logits differ by " + worst);
        return worst;
    }

    /** A checkpoint's parameters by name. */
    private record Parameters(Map<String, FlatParameters.Segment> segments, float[] flat) {
        Parameters(TrainedModel model) {
            this(new HashMap<>(), model.checkpoint().state().params());
            model.layout().segments().forEach(segment -> segments.put(segment.name(), segment));
        }

        float[] values(String name) {
            FlatParameters.Segment segment = segments.get(name);
            return Arrays.copyOfRange(flat, segment.offset(), segment.offset() + segment.length());
        }

        long[] shape(String name) {
            return segments.get(name).shape();
        }
    }

    /** Asserts {@code tensor} is parameter {@code name} as it is. */
    private static void assertAsItIs(Parameters ours, String name, Safetensors.Tensor tensor) {
        assertArrayEquals(ours.shape(name), tensor.shape(), name);
        assertArrayEquals(ours.values(name), tensor.values(), name);
    }

    /**
     * Asserts {@code tensor} [out, in] is nn.Linear's form of columns [first, first + out) of our matrix [in, n]:
     * tensor[o][i] = ours[i][first + o].
     */
    private static void assertTransposed(Parameters ours, String name, int first, Safetensors.Tensor tensor) {
        long[] shape = ours.shape(name);
        int in = (int) shape[0];
        int columns = (int) shape[1];
        int out = (int) tensor.shape()[0];
        assertArrayEquals(new long[] {out, in}, tensor.shape(), name);
        float[] values = ours.values(name);
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                assertEquals(values[i * columns + first + o], tensor.values()[o * in + i], name + "[" + i + ", " + o + "]");
            }
        }
    }
}

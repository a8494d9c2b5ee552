package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.coordinator.Coordinator;
import io.ringformer.coordinator.EmbeddedZooKeeper;
import io.ringformer.protocol.JobSpec;
import io.ringformer.protocol.ZkAuth;
import io.ringformer.protocol.ZkConnection;
import io.ringformer.protocol.ZkLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad input on the real command line, one table: each case runs {@code ringformer …} as a process and expects its
 * exit code (2: the user's to fix), one line that names the problem (a key substring), no stack trace and no
 * exception's name, and every directory it was pointed at left byte for byte as it was (each file hashed before
 * and after). All of them fail before training starts; one small pre-trained run directory (the tiny config, four
 * steps) and one embedded ZooKeeper serve every case.
 */
class BadInputIT {

    static final String TINY = "../configs/gpt-char-tiny.yaml";
    static final ZkAuth ALICE = new ZkAuth("alice", "s3cret");

    @TempDir
    static Path dir;
    static Path run;            // a finished run: checkpoints at steps 2 and 4
    static Path empty;          // an empty run directory
    static Path corrupt;        // a copy of run whose every params.bin has a flipped bit
    static Path malformed;      // a copy of run whose newest manifest.json is valid JSON of the wrong shape
    static Path mismatched;     // a copy of run whose newest config.yaml (checksummed) describes a wider model
    static Path oneCharacter;   // a text of one character
    static EmbeddedZooKeeper zooKeeper;
    static CuratorFramework client;

    @BeforeAll
    static void pretrainAndStartZooKeeper() throws Exception {
        run = dir.resolve("run");
        String out = Cli.run(dir.resolve("pretrain.log"), 0, 300, "train", "--config", TINY, "--out", run.toString(),
                "--sample", "0", "--set", "data.path=" + Cli.mobyDick(), "--set", "train.max_iters=4",
                "--set", "checkpoint.interval=2", "--set", "eval.interval=4", "--set", "eval.iters=1",
                "--set", "log.interval=2");
        assertTrue(Files.isDirectory(run.resolve("checkpoints/step-00000004")), out);
        empty = Files.createDirectories(dir.resolve("empty"));
        corrupt = copy(run, dir.resolve("corrupt"));
        for (String step : List.of("step-00000002", "step-00000004")) {
            Path params = corrupt.resolve("checkpoints").resolve(step).resolve("params.bin");
            byte[] bytes = Files.readAllBytes(params);
            bytes[bytes.length / 2] ^= 0x10;
            Files.write(params, bytes);
        }
        malformed = copy(run, dir.resolve("malformed"));
        Files.writeString(malformed.resolve("checkpoints/step-00000004/manifest.json"),
                "{\"format\": 1, \"step\": 4, \"files\": {\"params.bin\": \"e3b0c44298fc1c14\"}}");
        mismatched = copy(run, dir.resolve("mismatched"));
        Path step = mismatched.resolve("checkpoints/step-00000004");
        String config = Files.readString(step.resolve("config.yaml"));
        assertTrue(config.contains("n_embd: 32"), config);
        resign(step, "config.yaml", config.replace("n_embd: 32", "n_embd: 64"));
        oneCharacter = Files.writeString(dir.resolve("one.txt"), "a");

        zooKeeper = new EmbeddedZooKeeper();
        zooKeeper.start();
        client = ZkConnection.of(zooKeeper.connectString(), 4000).withAuth(null).newClient();
        client.start();
        Coordinator.submit(client, new ZkLayout("taken"), JobSpec.of("t", 8, 1, 1, 0, "model: {}\n"));
        try (CuratorFramework alice = ZkConnection.of(zooKeeper.connectString(), 4000).withAuth(ALICE).newClient()) {
            alice.start();
            Coordinator.submit(alice, new ZkLayout("secured"), JobSpec.of("t", 8, 1, 1, 0, "model: {}\n"));
        }
    }

    @AfterAll
    static void stopZooKeeper() {
        if (client != null) {
            client.close();
        }
        if (zooKeeper != null) {
            zooKeeper.close();
        }
    }

    /** One row: what to run, the exit code, a substring the output must hold, the directories it must not touch. */
    record Case(String name, int exit, String expected, Supplier<List<String>> arguments, Supplier<List<Path>> untouched) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Case train(String name, String expected, String... extra) {
        return new Case(name, 2, expected, () -> {
            List<String> args = new ArrayList<>(List.of("train", "--config", TINY, "--out", run.toString(),
                    "--sample", "0", "--set", "data.path=" + Cli.mobyDick()));
            args.addAll(List.of(extra));
            return args;
        }, () -> List.of(run));
    }

    static Case command(String name, String expected, Supplier<List<Path>> untouched, Supplier<List<String>> args) {
        return new Case(name, 2, expected, args, untouched);
    }

    static Stream<Case> cases() {
        Supplier<List<Path>> none = List::of;
        return Stream.of(
                train("unknown config key", "model.n_layer", "--set", "model.n_layers=3"),
                train("value of the wrong type", "train.batch_size", "--set", "train.batch_size=twelve"),
                train("eval.iters=0", "eval.iters=0 is out of range", "--set", "eval.iters=0"),
                train("log.interval=-3", "log.interval=-3 is out of range", "--set", "log.interval=-3"),
                train("model.n_embd=65536", "model.n_embd=65536 is out of range", "--set", "model.n_embd=65536"),
                train("exchange.wire=fp8", "exchange.wire=fp8 is out of range", "--set", "exchange.wire=fp8"),
                train("missing data file", "data file not found", "--set", "data.path=/nonexistent/text.txt"),
                train("one-character text", "single distinct character", "--set", "data.path=" + oneCharacter),
                train("parameters beyond the heap", "of Java heap", "--set", "model.n_embd=16384",
                        "--set", "model.n_layer=256", "--set", "model.n_head=256"),
                train("activations beyond the machine", "this machine has", "--set", "model.block_size=65536",
                        "--set", "train.batch_size=100000"),
                train("--resume with another seed", "train.seed", "--resume", "--set", "train.seed=99"),
                train("a new run over checkpoints", "already holds checkpoints"),
                command("missing config file", "nonexistent.yaml", none, () -> List.of("train", "--config",
                        dir.resolve("nonexistent.yaml").toString(), "--out", empty.toString())),
                command("--resume on an empty directory", "no checkpoint", () -> List.of(empty), () -> List.of(
                        "train", "--config", TINY, "--out", empty.toString(), "--resume", "--sample", "0",
                        "--set", "data.path=" + Cli.mobyDick())),
                command("a corrupt checkpoint", "does not match its SHA-256", () -> List.of(corrupt), () -> List.of(
                        "generate", "--checkpoint", corrupt.resolve("checkpoints/step-00000004").toString())),
                command("--resume where every checkpoint is corrupt", "no valid checkpoint", () -> List.of(corrupt),
                        () -> List.of("train", "--config", TINY, "--out", corrupt.toString(), "--resume",
                                "--sample", "0", "--set", "data.path=" + Cli.mobyDick(), "--set", "train.max_iters=4",
                                "--set", "checkpoint.interval=2", "--set", "eval.interval=4", "--set", "eval.iters=1",
                                "--set", "log.interval=2")),
                command("a malformed manifest", "manifest.json", () -> List.of(malformed), () -> List.of(
                        "generate", "--checkpoint", malformed.resolve("checkpoints/step-00000004").toString())),
                command("a checkpoint whose config does not fit its parameters", "parameters, but the model",
                        () -> List.of(mismatched), () -> List.of("generate", "--checkpoint",
                                mismatched.resolve("checkpoints/step-00000004").toString(), "--tokens", "5")),
                command("a job that already has a different spec", "already has a different spec", none,
                        () -> List.of("coordinator", "--zk", zooKeeper.connectString(), "--job", "taken",
                                "--config", TINY)),
                command("a ZooKeeper port in use", "is in use", none,
                        () -> List.of("zookeeper", "--port", "" + zooKeeper.port())),
                command("an unknown ZooKeeper host", "unknown host 'nosuchhost.invalid'", none,
                        () -> List.of("status", "--zk", "nosuchhost.invalid:2181", "--job", "x")),
                command("an unknown --bind host", "unknown host 'nosuchhost.invalid' for --bind", none,
                        () -> List.of("worker", "--zk", zooKeeper.connectString(), "--job", "x",
                                "--bind", "nosuchhost.invalid", "--out", empty.toString())),
                command("ZooKeeper on every interface without credentials", ZkAuth.ENVIRONMENT, none,
                        () -> List.of("zookeeper", "--port", "0", "--bind", "0.0.0.0")),
                command("a worker on every interface without credentials", "--zk-auth", none,
                        () -> List.of("worker", "--zk", zooKeeper.connectString(), "--job", "x", "--bind", "0.0.0.0",
                                "--out", empty.toString())),
                command("a secured job without credentials", "ZooKeeper refused access", none,
                        () -> List.of("status", "--zk", zooKeeper.connectString(), "--job", "secured")),
                command("a secured job with a wrong password", "ZooKeeper refused access", none,
                        () -> List.of("status", "--zk", zooKeeper.connectString(), "--job", "secured",
                                "--zk-auth", "alice:guess")),
                command("malformed credentials", "--zk-auth must be USER:PASSWORD", none,
                        () -> List.of("status", "--zk", zooKeeper.connectString(), "--job", "secured",
                                "--zk-auth", "alice")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    @Timeout(120)
    void badInputIsOneLineAndExitTwoAndTouchesNothing(Case c) throws Exception {
        List<Path> untouched = c.untouched().get();
        List<Map<String, String>> before = new ArrayList<>();
        for (Path path : untouched) {
            before.add(hashes(path));
        }
        Path log = dir.resolve(c.name().replaceAll("[^A-Za-z0-9]+", "-") + ".log");
        String output = Cli.run(log, c.exit(), 90, c.arguments().get().toArray(String[]::new));
        assertTrue(output.contains(c.expected()), () -> "expected '" + c.expected() + "' in:\n" + output);
        assertFalse(output.contains("Exception") || output.contains("\tat "), () -> "a stack trace:\n" + output);
        assertFalse(output.contains("s3cret"), output);
        for (int i = 0; i < untouched.size(); i++) {
            assertEquals(before.get(i), hashes(untouched.get(i)), untouched.get(i) + " changed");
        }
    }

    @Test
    @Timeout(120)
    void theJobsOwnCredentialsReadTheSecuredJob() throws Exception {
        String output = Cli.run(dir.resolve("status-alice.log"), 0, 90, "status", "--zk", zooKeeper.connectString(),
                "--job", "secured", "--zk-auth", "alice:s3cret");
        assertTrue(output.contains("job secured: config"), output);
        assertFalse(output.contains("s3cret"), output);
    }

    /** Every file under {@code root}, relative path → SHA-256 (directories as themselves, so an added one counts). */
    static Map<String, String> hashes(Path root) throws Exception {
        Map<String, String> hashes = new TreeMap<>();
        if (!Files.exists(root)) {
            return hashes;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path path : walk.toList()) {
                String name = root.relativize(path).toString();
                hashes.put(name, Files.isDirectory(path) ? "dir" : HexFormat.of().formatHex(
                        MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(path))));
            }
        }
        return hashes;
    }

    /** Writes {@code text} into {@code file} of a checkpoint and its size and SHA-256 into the manifest. */
    static void resign(Path checkpoint, String file, String text) throws Exception {
        byte[] bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Files.write(checkpoint.resolve(file), bytes);
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        Path manifestFile = checkpoint.resolve("manifest.json");
        String manifest = Files.readString(manifestFile);
        java.util.regex.Matcher entry = java.util.regex.Pattern.compile("\"" + java.util.regex.Pattern.quote(file)
                + "\" : \\{[^}]*\\}").matcher(manifest);
        assertTrue(entry.find(), manifest);
        String replaced = entry.group().replaceAll("\"sha256\" : \"[0-9a-f]{64}\"", "\"sha256\" : \"" + sha + "\"")
                .replaceAll("\"bytes\" : \\d+", "\"bytes\" : " + bytes.length);
        Files.writeString(manifestFile, manifest.replace(entry.group(), replaced));
    }

    static Path copy(Path from, Path to) throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path path : walk.toList()) {
                Path target = to.resolve(from.relativize(path).toString());
                if (Files.isDirectory(path)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(path, target);
                }
            }
        }
        return to;
    }
}

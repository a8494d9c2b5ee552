package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.ringformer.launch.Ringformer;
import io.ringformer.worker.TrainConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/**
 * The Kubernetes manifests of launch/k8s, checked offline (no API server here): launch/k8s/check/validate.mjs must
 * pass them and reject copies broken in one place each, naming the problem; the ringformer command lines of the
 * coordinator and the workers must parse with the real CLI, so that a change in the command line cannot silently
 * break the manifests; the job's ConfigMap must hold the recipe it says it holds.
 */
@Timeout(300)
class K8sManifestsIT {

    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final Path K8S = ROOT.resolve("launch/k8s");
    private static final Path CHECKER = K8S.resolve("check");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** What $(VAR) stands for at run time, for the variables the pods get from the API server or a ConfigMap. */
    private static final Map<String, String> SAMPLES = Map.of(
            "ZK", "ringformer-zookeeper-0.ringformer-zookeeper-headless:2181",
            "JOB", "gpt-char",
            "POD_NAME", "ringformer-worker-0",
            "POD_IP", "10.244.1.7");

    private record Run(int exit, String out, String err) {
        String both() {
            return out + err;
        }
    }

    /** The checker's dependencies, pinned by its package-lock.json, on a fresh machine. */
    @BeforeAll
    static void installChecker() throws Exception {
        if (!Files.isDirectory(CHECKER.resolve("node_modules"))) {
            Run install = run(List.of("npm", "ci", "--no-audit", "--no-fund"));
            assertEquals(0, install.exit(), install::both);
        }
    }

    private static Run run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(CHECKER.toFile()).start();
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> {
            try {
                return p.getErrorStream().readAllBytes();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        String out = new String(p.getInputStream().readAllBytes());
        return new Run(p.waitFor(), out, new String(err.join()));
    }

    private static Run check(String... arguments) throws Exception {
        List<String> command = new ArrayList<>(List.of("node", "validate.mjs"));
        command.addAll(List.of(arguments));
        return run(command);
    }

    /** A copy of the manifests with {@code from} (which must occur exactly once) replaced in one file. */
    private static Path broken(Path dir, String file, String from, String to) throws IOException {
        Path copy = Files.createTempDirectory(dir, "k8s");
        try (var manifests = Files.newDirectoryStream(K8S, "*.yaml")) {
            for (Path manifest : manifests) {
                Files.copy(manifest, copy.resolve(manifest.getFileName()));
            }
        }
        String text = Files.readString(copy.resolve(file));
        int at = text.indexOf(from);
        assertTrue(at >= 0 && text.indexOf(from, at + 1) < 0, file + " must hold exactly one '" + from + "'");
        Files.writeString(copy.resolve(file), text.replace(from, to));
        return copy;
    }

    @Test
    void theManifestsPassEveryCheck() throws Exception {
        Run run = check(K8S.toString());
        assertEquals(0, run.exit(), run::both);
        assertTrue(run.out().contains("objects in 5 files: no problems"), run.both());
    }

    @Test
    void copiesBrokenInOnePlaceAreRejectedNamingTheProblem(@TempDir Path dir) throws Exception {
        String selector = "    matchLabels:\n      app.kubernetes.io/name: ringformer\n      app.kubernetes.io/component: ";
        // file, what to change, into what, what the checker must say
        List<List<String>> cases = List.of(
                List.of("worker.yaml", selector + "worker\n", selector + "trainer\n",
                        "worker.yaml: StatefulSet/ringformer-worker: selector app.kubernetes.io/name=ringformer,"
                                + "app.kubernetes.io/component=trainer does not match its pod template's labels"),
                List.of("coordinator.yaml", "key: zk-auth", "key: zk-password",
                        "coordinator.yaml: Deployment/ringformer-coordinator: container 'coordinator' env "
                                + "RINGFORMER_ZK_AUTH refers to key 'zk-password' of Secret 'ringformer-secrets', "
                                + "which has no such key"),
                List.of("coordinator.yaml", "replicas: 2", "replicas: \"three\"",
                        "coordinator.yaml: Deployment/ringformer-coordinator: schema: spec.replicas must be integer"),
                List.of("zookeeper.yaml", "- name: zookeeper\n          image:", "- image:",
                        "zookeeper.yaml: StatefulSet/ringformer-zookeeper: schema: spec.template.spec.containers.0 "
                                + "must have required property name"),
                List.of("worker.yaml", "imagePullPolicy:", "imagePullPolcy:",
                        "worker.yaml: StatefulSet/ringformer-worker: unknown key 'imagePullPolcy' in "
                                + "spec.template.spec.containers[0] (did you mean 'imagePullPolicy'?)"),
                List.of("worker.yaml", "  clusterIP: None\n", "",
                        "worker.yaml: StatefulSet/ringformer-worker: serviceName 'ringformer-worker' is not a headless "
                                + "Service (clusterIP: None)"),
                List.of("zookeeper.yaml", "  serviceName: ringformer-zookeeper-headless",
                        "  serviceName: ringformer-zk",
                        "zookeeper.yaml: StatefulSet/ringformer-zookeeper: serviceName 'ringformer-zk' names no Service"),
                List.of("worker.yaml", "targetPort: metrics", "targetPort: prometheus",
                        "worker.yaml: Service/ringformer-worker: targetPort 'prometheus' is not a named container port "
                                + "of StatefulSet/ringformer-worker (it has metrics, inbox)"),
                List.of("worker.yaml", "clusterIP: None\n  selector:\n    app.kubernetes.io/name: ringformer\n"
                                + "    app.kubernetes.io/component: worker",
                        "clusterIP: None\n  selector:\n    app.kubernetes.io/name: ringformer\n"
                                + "    app.kubernetes.io/component: workers",
                        "worker.yaml: Service/ringformer-worker: selector app.kubernetes.io/name=ringformer,"
                                + "app.kubernetes.io/component=workers selects no pod template in the set"),
                List.of("worker.yaml", "- $(DEVICE)", "- $(GPU)",
                        "worker.yaml: StatefulSet/ringformer-worker: container 'worker' args uses $(GPU), which is not "
                                + "defined before it"),
                List.of("coordinator.yaml", "name: ringformer-job\n            items:",
                        "name: ringformer-config\n            items:",
                        "coordinator.yaml: Deployment/ringformer-coordinator: volume 'job' refers to ConfigMap "
                                + "'ringformer-config', which is not in the set"),
                List.of("coordinator.yaml", "        - name: token\n          secret:",
                        "        - name: token-file\n          secret:",
                        "coordinator.yaml: Deployment/ringformer-coordinator: container 'coordinator' mounts volume "
                                + "'token', which is neither a volume nor a volumeClaimTemplate"),
                List.of("secret.yaml", "kind: Secret", "kind: Secrets",
                        "secret.yaml: Secrets/ringformer-secrets: no such kind in Kubernetes' schema"));
        for (List<String> c : cases) {
            Run run = check(broken(dir, c.get(0), c.get(1), c.get(2)).toString());
            assertEquals(1, run.exit(), () -> c.get(3) + "\n" + run.both());
            assertTrue(run.err().contains(c.get(3)), () -> "expected: " + c.get(3) + "\ngot:\n" + run.both());
        }
    }

    /** The command lines the ringformer containers run ($(VAR)s substituted), by where they are. */
    private static Map<String, String[]> commandLines(Path manifests) throws Exception {
        Run run = check("--commands", manifests.toString());
        assertEquals(0, run.exit(), run::both);
        Map<String, String[]> lines = new java.util.TreeMap<>();
        for (JsonNode container : new ObjectMapper().readTree(run.out())) {
            List<String> argv = new ArrayList<>();
            for (JsonNode word : container.get("argv")) {
                argv.add(substitute(word.asText(), container.get("env")));
            }
            lines.put(container.get("where").asText(), argv.toArray(String[]::new));
        }
        return lines;
    }

    private static String substitute(String word, JsonNode env) {
        Matcher variable = Pattern.compile("\\$\\(([A-Za-z_][\\w.-]*)\\)").matcher(word);
        StringBuilder out = new StringBuilder();
        while (variable.find()) {
            String name = variable.group(1);
            JsonNode literal = env.get(name);
            String value = literal != null && !literal.isNull() ? literal.asText() : SAMPLES.get(name);
            assertTrue(value != null, "no sample value for $(" + name + ") in " + word);
            variable.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        return variable.appendTail(out).toString();
    }

    @Test
    void theCoordinatorAndWorkerCommandsParseWithTheRealCommandLine() throws Exception {
        // The image's entry point is the ringformer command, so a container's args are its command line.
        assertTrue(Files.readString(K8S.resolve("Dockerfile")).contains("ENTRYPOINT [\"ringformer\"]"));
        Map<String, String[]> lines = commandLines(K8S);
        assertEquals(List.of("coordinator.yaml: Deployment/ringformer-coordinator",
                "worker.yaml: StatefulSet/ringformer-worker"), List.copyOf(lines.keySet()));

        ParseResult coordinator = Ringformer.commandLine()
                .parseArgs(lines.get("coordinator.yaml: Deployment/ringformer-coordinator")).subcommand();
        assertEquals("coordinator", coordinator.commandSpec().name());
        JsonNode deployment = YAML.readTree(K8S.resolve("coordinator.yaml").toFile());
        assertEquals(mounted(deployment, "token"), coordinator.matchedOptionValue("--token-file", null).toString());
        assertEquals(mounted(deployment, "job"), coordinator.matchedOptionValue("--config", null).toString());

        ParseResult worker = Ringformer.commandLine()
                .parseArgs(lines.get("worker.yaml: StatefulSet/ringformer-worker")).subcommand();
        assertEquals("worker", worker.commandSpec().name());
        assertEquals("10.244.1.7", worker.matchedOptionValue("--bind", null), "workers advertise their pod address");
        assertEquals("ringformer-worker-0", worker.matchedOptionValue("--id", null));
        assertEquals("cuda:0", worker.matchedOptionValue("--device", null));
        assertEquals(40123, (int) worker.matchedOptionValue("--inbox-port", 0), "the inbox port the manifest declares");
        assertEquals(SAMPLES.get("ZK"), worker.matchedOptionValue("--zk", null));
        assertEquals((String) coordinator.matchedOptionValue("--job", null), worker.matchedOptionValue("--job", null));
    }

    /** The file a pod's volume (its one item) appears as in the first container: mountPath/item path. */
    private static String mounted(JsonNode workload, String volume) {
        JsonNode pod = workload.at("/spec/template/spec");
        for (JsonNode v : pod.get("volumes")) {
            if (v.get("name").asText().equals(volume)) {
                JsonNode source = v.has("secret") ? v.get("secret") : v.get("configMap");
                for (JsonNode mount : pod.at("/containers/0/volumeMounts")) {
                    if (mount.get("name").asText().equals(volume)) {
                        return mount.get("mountPath").asText() + "/" + source.at("/items/0/path").asText();
                    }
                }
            }
        }
        throw new AssertionError("no volume " + volume + " mounted in " + workload.at("/metadata/name"));
    }

    @Test
    void aMisspelledOptionInAManifestFailsToParse(@TempDir Path dir) throws Exception {
        Path copy = broken(dir, "coordinator.yaml", "- --settle-ms", "- --settle");
        String[] argv = commandLines(copy).get("coordinator.yaml: Deployment/ringformer-coordinator");
        CommandLine.UnmatchedArgumentException refused = assertThrows(CommandLine.UnmatchedArgumentException.class,
                () -> Ringformer.commandLine().parseArgs(argv));
        assertTrue(refused.getMessage().contains("--settle"), refused.getMessage());
    }

    @Test
    void theJobConfigMapHoldsTheRecipeAndItLoads(@TempDir Path dir) throws Exception {
        JsonNode configMap = YAML.readTree(K8S.resolve("job.yaml").toFile());
        String embedded = configMap.at("/data/job.yaml").asText();
        assertEquals(Files.readString(ROOT.resolve("configs/gpt-char.yaml")), embedded,
                "launch/k8s/job.yaml must hold configs/gpt-char.yaml as it is");
        Path file = Files.writeString(dir.resolve("job.yaml"), embedded);
        assertEquals(12, TrainConfig.load(file, List.of()).getInt("train.batch_size"));
        assertTrue(configMap.at("/data/zookeeper").asText().startsWith("ringformer-zookeeper-0.ringformer-zookeeper-headless:2181,"));
    }
}

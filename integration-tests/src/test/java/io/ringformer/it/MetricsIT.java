package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.launch.ChildJvm;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prometheus metrics of a running 2-worker job: each worker serves them on a port of its own (--metrics-port 0), the
 * test scrapes both over HTTP while the job trains and parses the text format; so does a standalone coordinator.
 */
class MetricsIT {

    private static final Pattern URL = Pattern.compile("worker (w0[01]): metrics at (http://127\\.0\\.0\\.1:\\d+/metrics)");
    private static final Pattern WATCH = Pattern.compile("status --watch --zk (\\S+) --job (\\S+)");
    private static final String CLEAR_SCREEN = Pattern.quote("\033[H\033[2J");
    private static final Pattern SAMPLE = Pattern.compile("^([a-z_]+)(\\{[^}]*\\})? (\\S+)$");

    @Test
    @Timeout(300)
    void bothWorkersOfARunningJobServeTheirTrainingAndJvmMetrics(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("train.log");
        Process job = ChildJvm.start(List.of("train", "--config", "../configs/gpt-char-tiny.yaml", "--workers", "2",
                "--metrics-port", "0", "--out", dir.resolve("run").toString(), "--sample", "0", "--set",
                "train.max_iters=100000", "--set", "log.interval=5", "--set", "checkpoint.interval=20", "--set",
                "data.path=" + Cli.mobyDick()), "2g", log);
        try {
            Map<String, String> urls = new HashMap<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(200);
            while (urls.size() < 2 || !Cli.read(log).contains("checkpoint ")) {
                assertTrue(job.isAlive() && System.nanoTime() < deadline, Cli.read(log));
                Matcher m = URL.matcher(Cli.read(log));
                while (m.find()) {
                    urls.put(m.group(1), m.group(2));
                }
                Thread.sleep(200);
            }
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            for (Map.Entry<String, String> worker : urls.entrySet()) {
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(worker.getValue()))
                        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, response.statusCode());
                assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
                Map<String, Double> samples = parse(response.body(), worker.getKey());
                String which = worker.getKey() + ": " + samples;
                System.out.println("worker metrics, " + which);
                assertTrue(samples.get("ringformer_step") >= 5, which);
                assertTrue(samples.get("ringformer_loss") > 0 && samples.get("ringformer_loss") < 10, which);
                assertTrue(samples.get("ringformer_tokens_per_second") > 0, which);
                assertTrue(samples.get("ringformer_grad_norm") > 0 && samples.get("ringformer_learning_rate") > 0, which);
                assertEquals(1.0, samples.get("ringformer_loss_scale"), which);
                assertTrue(samples.get("ringformer_allreduce_seconds") >= 0 && samples.get("ringformer_step_seconds") > 0,
                        which);
                assertEquals(4.0 * (29_152 + 2), samples.get("ringformer_allreduce_bytes"), which);
                assertEquals(1.0, samples.get("ringformer_generation"), which);
                assertEquals(2.0, samples.get("ringformer_members"), which);
                assertEquals(0.0, samples.get("ringformer_recoveries"), which);
                assertEquals(0.0, samples.get("ringformer_exchange_dropped_frames"), which);
                assertTrue(samples.get("jvm_memory_used_bytes") > 0, which);
                if (worker.getKey().equals("w00")) {          // rank 0 writes the checkpoints
                    assertTrue(samples.get("ringformer_checkpoint_step") >= 20
                            && samples.get("ringformer_checkpoint_bytes") > 4 * 29_152
                            && samples.get("ringformer_checkpoint_seconds") >= 0, which);
                }
            }
            watchTheJob(dir, Cli.read(log));
        } finally {
            ChildJvm.stopAll(List.of(job));
        }
    }

    /**
     * A standalone coordinator with {@code --metrics-port 0} and two workers (own media drivers, UDP on 127.0.0.1):
     * the coordinator's endpoint follows the whole job — leadership, generation, members, step, loss, throughput.
     */
    @Test
    @Timeout(300)
    void theCoordinatorServesTheJobsMetrics(@TempDir Path dir) throws Exception {
        List<Job> jobs = new java.util.ArrayList<>();
        try {
            String zk = ClusterIT.zooKeeper(jobs, dir);
            Job coordinator = ClusterIT.coordinator(jobs, dir.resolve("coordinator.log"), zk, "scraped",
                    ClusterIT.config(100_000, Cli.mobyDick().toString()), 2, 2, "--metrics-port", "0");
            String url = coordinator.await("coordinator \\S+: metrics at (http://127\\.0\\.0\\.1:\\d+/metrics)", 60)
                    .group(1);
            for (String id : new String[] {"a", "b"}) {
                ClusterIT.worker(jobs, dir.resolve(id + ".log"), dir, zk, "scraped", id, dir.resolve("run"), false);
            }
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(200);
            Map<String, Double> samples;
            do {
                assertTrue(System.nanoTime() < deadline, "the job did not reach step 5: " + Cli.read(dir.resolve("a.log")));
                Thread.sleep(500);
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url))
                        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, response.statusCode());
                samples = parse(response.body(), "coordinator", null);
            } while (samples.get("ringformer_job_step") < 5);
            System.out.println("coordinator metrics: " + samples);
            assertEquals(1.0, samples.get("ringformer_coordinator_leader"), samples.toString());
            assertEquals(1.0, samples.get("ringformer_generation"), samples.toString());
            assertEquals(2.0, samples.get("ringformer_members"), samples.toString());
            assertEquals(1.0, samples.get("ringformer_job_running"), samples.toString());
            assertTrue(samples.get("ringformer_job_loss") > 0 && samples.get("ringformer_job_loss") < 10
                    && samples.get("ringformer_job_items_per_second") > 0, samples.toString());
            assertTrue(samples.get("jvm_memory_used_bytes") > 0, samples.toString());
        } finally {
            ClusterIT.closeAll(jobs);
        }
    }

    /**
     * {@code status --watch} on the running job, for a few screens: each names both workers with their host and
     * state, the step, the throughput and the last event (here the checkpoint the test waited for, or later).
     */
    private static void watchTheJob(Path dir, String trainLog) throws Exception {
        Matcher zk = WATCH.matcher(trainLog);
        assertTrue(zk.find(), trainLog);
        Path log = dir.resolve("status.log");
        Process watch = ChildJvm.start(List.of("status", "--watch", "--interval-ms", "300", "--zk", zk.group(1),
                "--job", zk.group(2)), "256m", log);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (Cli.read(log).split(CLEAR_SCREEN, -1).length < 4) {           // three whole screens at least
                assertTrue(watch.isAlive() && System.nanoTime() < deadline, Cli.read(log));
                Thread.sleep(200);
            }
        } finally {
            ChildJvm.stopAll(List.of(watch));
        }
        String[] screens = Cli.read(log).split(CLEAR_SCREEN);
        String screen = screens[screens.length - 2];
        System.out.println("status --watch, one screen:\n" + screen);
        assertTrue(screen.contains("job " + zk.group(2) + ": config") && screen.contains("state running, step "),
                screen);
        assertTrue(Pattern.compile("(?m)^state running, step \\d+, loss \\d+\\.\\d+, [\\d,]+ items/s$")
                .matcher(screen).find(), screen);
        for (String rank : new String[] {"0  w00", "1  w01"}) {
            assertTrue(Pattern.compile("(?m)^ +" + rank + " +\\S+ +training +cpu +\\d+\\+\\d+$").matcher(screen)
                    .find(), screen);
        }
        assertTrue(Pattern.compile("(?m)^last event: 20\\d\\d-\\S+Z (checkpoint |generation )").matcher(screen)
                .find(), screen);
    }

    /**
     * name → the sum of its samples (one for most; every memory pool for jvm_memory_used_bytes, where one pool may
     * hold 0 bytes; both reasons of the dropped frames), checking that every sample carries {@code worker}'s tag.
     */
    private static Map<String, Double> parse(String text, String worker) {
        return parse(text, "worker", worker);
    }

    /** The same, for any role's tag; a null {@code id} accepts any value of it. */
    private static Map<String, Double> parse(String text, String role, String id) {
        Map<String, Double> samples = new HashMap<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            assertTrue(m.matches(), "not a Prometheus sample line: " + line);
            assertTrue(m.group(2) != null && m.group(2).contains(role + "=\"" + (id == null ? "" : id + "\"")), line);
            samples.merge(m.group(1), Double.parseDouble(m.group(3)), Double::sum);
        }
        return samples;
    }
}

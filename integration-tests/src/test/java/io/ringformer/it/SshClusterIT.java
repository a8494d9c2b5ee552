package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code launch/cluster.sh} against a real sshd (Debian openssh-server, which .ci/run installs) on 127.0.0.1 and a
 * port of its own, with a key pair the test makes: the host file names 127.0.0.1 with that port, so both workers
 * start over ssh. One job trains to its end; another is stopped by signalling the script, and its remote workers,
 * which ssh alone would leave running, must be gone (the script kills them by PID over ssh), and so must the host's
 * media driver. A third job runs on two network-namespace hosts, each with an sshd of its own.
 */
class SshClusterIT {

    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    @TempDir
    Path dir;
    private Process sshd;
    private int port;

    @BeforeEach
    void startSshd() throws Exception {
        assertTrue(Files.isExecutable(Path.of("/usr/sbin/sshd")), "/usr/sbin/sshd is missing: apt-get install "
                + "openssh-server (.ci/run does)");
        exec("mkdir", "-p", "-m", "0755", "/run/sshd");
        exec("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir.resolve("host_key").toString());
        exec("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir.resolve("key").toString());
        Files.copy(dir.resolve("key.pub"), dir.resolve("authorized_keys"));
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        sshd = new ProcessBuilder("/usr/sbin/sshd", "-D", "-e", "-p", "" + port, "-h", dir.resolve("host_key").toString(),
                "-o", "ListenAddress=127.0.0.1", "-o", "PidFile=" + dir.resolve("sshd.pid"),
                "-o", "AuthorizedKeysFile=" + dir.resolve("authorized_keys"), "-o", "StrictModes=no",
                "-o", "PermitRootLogin=prohibit-password", "-o", "PasswordAuthentication=no")
                .redirectErrorStream(true).redirectOutput(dir.resolve("sshd.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (run(List.of("ssh", "-p", "" + port, "-i", dir.resolve("key").toString(), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "127.0.0.1", "true"), dir.resolve("probe.log"), 15) != 0) {
            assertTrue(System.nanoTime() < deadline, "sshd did not accept the test's key: " + Cli.read(dir.resolve("sshd.log"))
                    + Cli.read(dir.resolve("probe.log")));
            Thread.sleep(200);
        }
    }

    @AfterEach
    void stopSshd() throws Exception {
        sshd.destroy();
        sshd.waitFor(10, TimeUnit.SECONDS);
    }

    private List<String> cluster(Path run, int steps) throws IOException {
        Path hosts = dir.resolve("hosts");
        Files.writeString(hosts, "# two workers on this machine, reached over ssh\n127.0.0.1 2 " + port + "\n");
        return List.of("launch/cluster.sh", hosts.toString(), "configs/gpt-char-tiny.yaml", "--job", "ssh-" + steps,
                "--out", run.toString(), "--set", "train.max_iters=" + steps, "--set", "data.path=" + Cli.mobyDick());
    }

    private ProcessBuilder inRoot(List<String> command, Path log) {
        ProcessBuilder builder = new ProcessBuilder(command).directory(ROOT.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        builder.environment().put("RINGFORMER_SSH_OPTS", "-i " + dir.resolve("key") + " -o StrictHostKeyChecking=no "
                + "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR");
        return builder;
    }

    @Test
    @Timeout(400)
    void twoWorkersStartedOverSshTrainTheJob() throws Exception {
        Path run = dir.resolve("run");
        Process script = inRoot(cluster(run, 30), dir.resolve("cluster.log")).start();
        assertTrue(script.waitFor(300, TimeUnit.SECONDS), Cli.read(dir.resolve("cluster.log")));
        String out = Cli.read(dir.resolve("cluster.log"));
        assertEquals(0, script.exitValue(), out);
        assertTrue(out.contains("rank 0 of 2 in generation 1, shared memory") && out.contains("rank 1 of 2")
                && out.contains("finished: trained to step 30"), out);
        assertEquals(1, out.split("media driver ready at").length - 1, "one media driver for the host: " + out);
        assertEquals(List.of(), leftInSharedMemory("ssh-30"), out);
        assertTrue(Files.isDirectory(run.resolve("checkpoints").resolve("step-00000030")), out);
        assertTrue(Cli.read(dir.resolve("sshd.log")).contains("Accepted publickey"), "the workers came over ssh");
    }

    @Test
    @Timeout(400)
    void stoppingTheScriptStopsTheRemoteWorkers() throws Exception {
        Path run = dir.resolve("long");
        Process script = inRoot(cluster(run, 100_000), dir.resolve("long.log")).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
        while (!Cli.read(dir.resolve("long.log")).contains("step 10/")) {
            assertTrue(script.isAlive() && System.nanoTime() < deadline, Cli.read(dir.resolve("long.log")));
            Thread.sleep(200);
        }
        assertEquals(2, workersOf(run).size(), "both remote workers run: " + workersOf(run));
        script.destroy();                                        // SIGTERM, as a scheduler or Ctrl-C would
        assertTrue(script.waitFor(60, TimeUnit.SECONDS));
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!workersOf(run).isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        List<ProcessHandle> left = workersOf(run);
        left.forEach(ProcessHandle::destroyForcibly);            // not to leak them into the next test
        assertEquals(List.of(), left, "remote workers left running: " + Cli.read(dir.resolve("long.log")));
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!leftInSharedMemory("ssh-100000").isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        assertEquals(List.of(), leftInSharedMemory("ssh-100000"), "the remote media driver must stop and clean up");
    }

    /**
     * Two hosts made of network namespaces ({@link Hosts}), each with its own sshd on its own address and two
     * workers: cluster.sh reaches each host over ssh, starts one media driver per host, and the four workers train
     * the job with the hierarchical all-reduce (shared memory within each host, the ring over UDP between the hosts'
     * addresses), ending with the parameters of one process that trained the same global batches.
     */
    @Test
    @Timeout(600)
    void twoNamespaceHostsOfTwoWorkersEachTrainOverUdp() throws Exception {
        try (Hosts hosts = new Hosts(2)) {
            List<Process> daemons = new ArrayList<>();
            try {
                for (int host = 1; host <= 2; host++) {
                    List<String> command = new ArrayList<>(hosts.on(host));
                    command.addAll(List.of("/usr/sbin/sshd", "-D", "-e", "-p", "22", "-h",
                            dir.resolve("host_key").toString(), "-o", "ListenAddress=" + hosts.address(host),
                            "-o", "PidFile=" + dir.resolve("sshd-" + host + ".pid"),
                            "-o", "AuthorizedKeysFile=" + dir.resolve("authorized_keys"), "-o", "StrictModes=no",
                            "-o", "PermitRootLogin=prohibit-password", "-o", "PasswordAuthentication=no"));
                    daemons.add(new ProcessBuilder(command).redirectErrorStream(true)
                            .redirectOutput(dir.resolve("sshd-" + host + ".log").toFile()).start());
                }
                Path hostFile = dir.resolve("namespaces");
                Files.writeString(hostFile, hosts.address(1) + " 2\n" + hosts.address(2) + " 2\n");
                Path run = dir.resolve("udp");
                ProcessBuilder builder = inRoot(List.of("launch/cluster.sh", hostFile.toString(),
                        "configs/gpt-char-tiny.yaml", "--job", "netns", "--out", run.toString(), "--set",
                        "train.max_iters=20", "--set", "data.path=" + Cli.mobyDick()), dir.resolve("netns.log"));
                builder.environment().put("RINGFORMER_ZK_AUTH", "cluster:s3cret");
                builder.environment().put("RINGFORMER_ZK_HOST", hosts.bridgeAddress());
                Process script = builder.start();
                assertTrue(script.waitFor(480, TimeUnit.SECONDS), Cli.read(dir.resolve("netns.log")));
                String out = Cli.read(dir.resolve("netns.log"));
                assertEquals(0, script.exitValue(), out);
                assertTrue(out.contains("finished: trained to step 20"), out);
                for (int rank = 0; rank < 4; rank++) {
                    assertTrue(out.contains("rank " + rank + " of 4 in generation 1, hierarchical over 2 hosts"), out);
                }
                for (int host = 1; host <= 2; host++) {
                    assertEquals(2, out.split("inbox aeron:udp\\?endpoint=" + hosts.address(host).replace(".", "\\.")
                            + ":").length - 1, "two workers receive on host " + host + "'s address: " + out);
                    assertTrue(out.contains("media driver ready at /dev/shm/ringformer-netns-host" + (host - 1)), out);
                    assertTrue(Cli.read(dir.resolve("sshd-" + host + ".log")).contains("Accepted publickey"),
                            "host " + host + " was reached over ssh");
                }
                assertEquals(2, out.split("media driver ready at").length - 1, "one media driver per host: " + out);
                assertTrue(Files.isDirectory(run.resolve("checkpoints").resolve("step-00000020")), out);
                assertEquals(List.of(), leftInSharedMemory("netns"), out);

                Path one = dir.resolve("one");
                Cli.run(dir.resolve("one.log"), 0, 300, "train", "--config", "../configs/gpt-char-tiny.yaml",
                        "--workers", "1", "--out", one.toString(), "--sample", "0", "--set", "train.max_iters=20",
                        "--set", "data.path=" + Cli.mobyDick());
                double difference = TrainingJobIT.maxDifference(TrainingJobIT.finalParameters(one, 20),
                        TrainingJobIT.finalParameters(run, 20));
                System.out.printf("hierarchical, 2 hosts × 2 workers vs one process after 20 steps: max |Δθ| = %.3g%n",
                        difference);
                assertTrue(difference < 1e-5, "parameters differ from one process's by " + difference);
            } finally {
                daemons.forEach(Process::destroy);
            }
        }
    }

    /** The media-driver directories cluster.sh made for {@code job} that are still there. */
    private static List<String> leftInSharedMemory(String job) {
        String[] names = new java.io.File("/dev/shm").list((d, name) -> name.startsWith("ringformer-" + job + "-host"));
        return names == null ? List.of() : List.of(names);
    }

    private static List<ProcessHandle> workersOf(Path run) {
        List<ProcessHandle> found = new ArrayList<>();
        ProcessHandle.allProcesses().filter(p -> p.info().commandLine()
                .map(c -> c.contains("Ringformer worker ") && c.contains(run.toString())).orElse(false)).forEach(found::add);
        return found;
    }

    private static int run(List<String> command, Path log, long timeoutSeconds) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return -1;
        }
        return p.exitValue();
    }

    private static void exec(String... command) throws Exception {
        Process p = new ProcessBuilder(command).inheritIO().start();
        assertEquals(0, p.waitFor(), String.join(" ", command));
    }
}

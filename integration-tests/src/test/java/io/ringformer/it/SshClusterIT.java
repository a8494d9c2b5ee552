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
 * which ssh alone would leave running, must be gone (the script kills them by PID over ssh).
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
        assertTrue(out.contains("rank 0 of 2") && out.contains("rank 1 of 2") && out.contains("finished: trained to "
                + "step 30"), out);
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

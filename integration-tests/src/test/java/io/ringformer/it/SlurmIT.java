package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code launch/slurm.sbatch} on a real one-node Slurm (Debian slurm-wlm 22.05 and munge, which .ci/run installs):
 * the test writes a configuration (DESIGN.md §2), starts its own munged (on a socket of its own), slurmctld and
 * slurmd, submits the script with {@code sbatch --wait} for a 2-task job on the tiny config, checks the run
 * directory and the job's output, and stops every daemon it started.
 */
class SlurmIT {

    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    @Test
    @Timeout(600)
    void aTwoTaskJobSubmittedWithSbatchTrainsAndLeavesItsRunDirectory(@TempDir Path dir) throws Exception {
        for (String daemon : List.of("/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch")) {
            assertTrue(Files.isExecutable(Path.of(daemon)), daemon + " is missing: apt-get install slurm-wlm munge "
                    + "(.ci/run does)");
        }
        List<Process> daemons = new ArrayList<>();
        try {
            Path conf = configure(dir, daemons);
            Path run = dir.resolve("run");
            ProcessBuilder submit = new ProcessBuilder("sbatch", "--wait", "-O", "--ntasks", "2", "--output",
                    dir.resolve("job-%j.out").toString(), "launch/slurm.sbatch", "configs/gpt-char-tiny.yaml",
                    "--out", run.toString(), "--set", "train.max_iters=30", "--set", "data.path=" + Cli.mobyDick())
                    .directory(ROOT.toFile()).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("sbatch.log").toFile());
            submit.environment().put("SLURM_CONF", conf.toString());
            Process sbatch = submit.start();
            assertTrue(sbatch.waitFor(300, TimeUnit.SECONDS), "sbatch --wait did not return in 300 s: "
                    + Cli.read(dir.resolve("sbatch.log")));
            String submitted = Cli.read(dir.resolve("sbatch.log"));
            String jobId = submitted.replaceAll("(?s).*Submitted batch job (\\d+).*", "$1").trim();
            String output = Cli.read(dir.resolve("job-" + jobId + ".out"));
            assertEquals(0, sbatch.exitValue(), submitted + output);
            assertTrue(output.contains("job slurm-" + jobId + " finished: trained to step 30"), output);
            assertTrue(output.contains("rank 0: state hash") && output.contains("rank 1: state hash"),
                    "two workers, one per task: " + output);
            assertTrue(Files.isDirectory(run.resolve("checkpoints").resolve("step-00000030")), output);
            assertTrue(Files.size(run.resolve("metrics.jsonl")) > 0);
            assertTrue(output.contains("rank 0 of 2 in generation 1, shared memory"), "the node's driver is shared: "
                    + output);
            assertTrue(!Files.exists(Path.of("/dev/shm/ringformer-slurm-" + jobId)), "the driver left its directory");
        } finally {
            List<ProcessHandle> started = new ArrayList<>();
            for (Process p : daemons) {
                p.descendants().forEach(started::add);
                started.add(p.toHandle());
            }
            started.forEach(ProcessHandle::destroy);
            for (ProcessHandle p : started) {
                try {
                    p.onExit().get(20, TimeUnit.SECONDS);
                } catch (java.util.concurrent.TimeoutException e) {
                    p.destroyForcibly();
                }
            }
        }
        assertTrue(ProcessHandle.allProcesses().noneMatch(p -> p.info().commandLine()
                .map(c -> c.contains(dir.toString())).orElse(false)), "a daemon or worker of the test is still running");
    }

    /** Writes slurm.conf into {@code dir} and starts munged, slurmctld and slurmd; returns the config's path. */
    private static Path configure(Path dir, List<Process> daemons) throws Exception {
        String host = InetAddress.getLocalHost().getHostName().split("\\.")[0];
        // munged runs as the munge user: it must be able to reach its directory inside the test's
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path munge = Files.createDirectories(dir.resolve("munge"));
        exec("chown", "munge:munge", munge.toString());
        Files.setPosixFilePermissions(munge, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = munge.resolve("munge.socket");
        daemons.add(start(dir.resolve("munged.log"), null, "runuser", "-u", "munge", "--", "/usr/sbin/munged",
                "--foreground", "--socket=" + socket, "--pid-file=" + munge.resolve("munged.pid"),
                "--log-file=" + munge.resolve("munged.log"), "--seed-file=" + munge.resolve("munged.seed")));
        await(() -> Files.exists(socket), "munged's socket " + socket, dir.resolve("munged.log"));

        long memoryMb = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("MemAvailable"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", "")) / 1024).findFirst().orElse(4096) * 95 / 100;
        Path conf = dir.resolve("slurm.conf");
        Files.createDirectories(dir.resolve("state"));
        Files.createDirectories(dir.resolve("spool"));
        Files.writeString(conf, String.join("\n",
                "ClusterName=ringformer-test", "SlurmctldHost=" + host, "SlurmUser=root", "SlurmdUser=root",
                "AuthType=auth/munge", "AuthInfo=socket=" + socket, "CredType=cred/munge",
                "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core", "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none", "MpiDefault=none", "MailProg=/bin/true",
                "ReturnToService=2", "SlurmctldPort=" + freePort(), "SlurmdPort=" + freePort(),
                "StateSaveLocation=" + dir.resolve("state"), "SlurmdSpoolDir=" + dir.resolve("spool"),
                "SlurmctldPidFile=" + dir.resolve("slurmctld.pid"), "SlurmdPidFile=" + dir.resolve("slurmd.pid"),
                "SlurmctldLogFile=" + dir.resolve("slurmctld.log"), "SlurmdLogFile=" + dir.resolve("slurmd.log"),
                "NodeName=" + host + " CPUs=" + Runtime.getRuntime().availableProcessors() + " RealMemory=" + memoryMb,
                "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP", ""));
        daemons.add(start(dir.resolve("slurmctld.out"), conf, "/usr/sbin/slurmctld", "-D", "-i"));
        daemons.add(start(dir.resolve("slurmd.out"), conf, "/usr/sbin/slurmd", "-D"));
        await(() -> "idle".equals(sinfo(conf)), "the node to be idle in sinfo", dir.resolve("slurmd.log"));
        return conf;
    }

    private static String sinfo(Path conf) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder("sinfo", "-h", "-o", "%t").redirectErrorStream(true);
        builder.environment().put("SLURM_CONF", conf.toString());
        Process p = builder.start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        p.waitFor();
        return out;
    }

    private static Process start(Path log, Path conf, String... command) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        if (conf != null) {
            builder.environment().put("SLURM_CONF", conf.toString());
        }
        return builder.start();
    }

    private static void exec(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).inheritIO().start();
        assertEquals(0, p.waitFor(), String.join(" ", command));
    }

    private interface Condition {
        boolean holds() throws Exception;
    }

    private static void await(Condition condition, String what, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.holds()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("waited 30 s for " + what + ":\n" + Cli.read(log));
            }
            Thread.sleep(200);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}

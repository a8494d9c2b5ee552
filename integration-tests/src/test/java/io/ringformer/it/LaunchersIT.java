package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import io.ringformer.launch.Ringformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The launch scripts' dry runs (what each would run, so that a change in the command line cannot silently break a
 * script) and a real run of the multi-GPU launcher on this GPU-less machine. A fake {@code nvidia-smi} that lists
 * two GPUs drives the GPU branch's dry run. (`SlurmIT` submits the Slurm script to a real Slurm.)
 */
class LaunchersIT {

    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    private static String script(Map<String, String> environment, int expectedExit, String... command) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command).directory(ROOT.toFile()).redirectErrorStream(true);
        builder.environment().putAll(environment);
        Process p = builder.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(expectedExit, p.waitFor(), out);
        return out;
    }

    /**
     * Every {@code ringformer …} command a dry run prints — directly, inside {@code bash -c "…"} or inside ssh's
     * remote command — parsed by the real command line: a renamed option or command breaks this test, not a job.
     *
     * @return how many commands were parsed
     */
    static int parseEveryRingformerCommand(String out) {
        int parsed = 0;
        for (String line : out.split("\n")) {
            parsed += parseRingformerCommands(ShellWords.split(line), line);
        }
        return parsed;
    }

    private static int parseRingformerCommands(List<String> words, String line) {
        for (int i = 0; i < words.size(); i++) {
            if (words.get(i).endsWith("bin/ringformer")) {
                List<String> arguments = words.subList(i + 1, words.size());
                try {
                    Ringformer.commandLine().parseArgs(arguments.toArray(String[]::new));
                } catch (CommandLine.ParameterException e) {
                    throw new AssertionError("the launcher runs a command the CLI refuses (" + e.getMessage() + "): "
                            + line, e);
                }
                return 1;
            }
        }
        int nested = 0;
        for (String word : words) {
            if (word.contains("bin/ringformer")) {                   // bash -c "…", ssh HOST "…"
                nested += parseRingformerCommands(ShellWords.split(word), line);
            }
        }
        return nested;
    }

    @Test
    void slurmsDryRunPrintsZooKeeperTheCoordinatorADriverPerNodeAndOneWorkerPerTask() throws Exception {
        String out = script(Map.of(), 0, "launch/slurm.sbatch", "--dry-run", "configs/gpt-char-tiny.yaml", "--set",
                "train.max_iters=5");
        assertEquals(4, parseEveryRingformerCommand(out), out);
        assertTrue(out.contains("srun --job-name ringformer-drivers --overlap --nodes 1 --ntasks 1 --ntasks-per-node 1 --kill-on-bad-exit=0 ")
                && out.contains("ringformer media-driver --dir /dev/shm/ringformer-slurm-dry-run"), out);
        assertTrue(out.contains("--aeron-dir '/dev/shm/ringformer-slurm-dry-run' --inbox ipc"), out);
        assertTrue(out.contains("ringformer zookeeper --port 0 --bind 127.0.0.1"), out);
        assertTrue(out.contains("ringformer coordinator --job slurm-dry-run --config "
                + ROOT.resolve("configs/gpt-char-tiny.yaml") + " --set train.max_iters=5 --min-workers 1 --max-workers 2"), out);
        assertTrue(out.contains("srun --ntasks 2") && out.contains("worker --zk 127.0.0.1:<port> --job 'slurm-dry-run'"
                + " --id task-$SLURM_PROCID --bind 127.0.0.1"), out);
        String ensemble = script(Map.of("ZK_HOSTS", "zk1:2181,zk2:2181", "SLURM_NTASKS", "4"), 0, "launch/slurm.sbatch",
                "--dry-run", "configs/gpt-char-tiny.yaml");
        assertTrue(!ensemble.contains("zookeeper --port") && ensemble.contains("--max-workers 4 --settle-ms 60000 --zk "
                + "zk1:2181,zk2:2181") && ensemble.contains("srun --ntasks 4"), ensemble);
        String nodes = script(Map.of("SLURM_NTASKS", "8", "SLURM_JOB_NUM_NODES", "2", "RINGFORMER_ZK_AUTH", "u:p"), 0,
                "launch/slurm.sbatch", "--dry-run", "configs/gpt-char-tiny.yaml");
        assertTrue(nodes.contains("--overlap --nodes 2 --ntasks 2 --ntasks-per-node 1")
                && nodes.contains("--inbox udp"), "two nodes: a driver on each, workers on UDP: " + nodes);
    }

    @Test
    void clustersDryRunPrintsLocalWorkersAndSshCommandsForTheOthers(@TempDir Path dir) throws Exception {
        Path hosts = dir.resolve("hosts");
        Files.writeString(hosts, "# comment\n127.0.0.1 2\n10.9.0.2 1 2222\n");
        String out = script(Map.of("RINGFORMER_ZK_AUTH", "user:secret", "RINGFORMER_ZK_HOST", "10.9.0.1",
                "RINGFORMER_SSH_OPTS", "-i /keys/id"), 0, "launch/cluster.sh", hosts.toString(),
                "configs/gpt-char-tiny.yaml", "--job", "j", "--out", "/runs/j", "--resume", "--dry-run");
        assertTrue(out.contains("ringformer zookeeper --port 0 --bind 0.0.0.0"), out);
        assertTrue(out.contains("coordinator --zk 10.9.0.1:\\<port\\> --job j --config "), out);
        assertTrue(out.contains("--min-workers 1 --max-workers 3 --settle-ms 60000"), out);
        // One media driver per host; across hosts every worker receives UDP through its host's driver.
        assertTrue(out.contains("ringformer media-driver --dir /dev/shm/ringformer-j-host0"), out);
        assertTrue(out.contains("worker --zk 10.9.0.1:\\<port\\> --job j --id 127-0-0-1-1 --bind 127.0.0.1 --out /runs/j"
                + " --aeron-dir /dev/shm/ringformer-j-host0 --inbox udp --resume"), out);
        assertTrue(out.contains("ssh -o BatchMode=yes -p 2222 -i /keys/id 10.9.0.2 ") && out.contains("--id\\ 10-9-0-2-2"),
                out);
        assertTrue(out.contains("media-driver\\ --dir\\ /dev/shm/ringformer-j-host1") && out.contains(
                "--aeron-dir\\ /dev/shm/ringformer-j-host1\\ --inbox\\ udp"), out);
        assertEquals(2, out.split("media-driver").length - 1, "one driver per host: " + out);
        assertTrue(!out.contains("secret"), "credentials never on a command line: " + out);
        assertEquals(8, parseEveryRingformerCommand(out), out);  // ZooKeeper, 2 coordinators, 2 drivers, 3 workers
        String refused = script(Map.of(), 2, "launch/cluster.sh", hosts.toString(), "configs/gpt-char-tiny.yaml",
                "--dry-run");
        assertTrue(refused.contains("need ZooKeeper credentials"), refused);
    }

    @Test
    void multiGpuWithoutGpusRunsCpuWorkersAndWithThemOneWorkerPerGpu(@TempDir Path dir) throws Exception {
        String cpu = script(Map.of("PATH", "/usr/bin:/bin"), 0, "launch/multi-gpu.sh", "--gpus", "2", "--config",
                "configs/gpt-char-tiny.yaml", "--dry-run", "--set", "train.max_iters=5");
        assertTrue(cpu.contains("no GPU on this machine") && cpu.contains("running 2 CPU workers instead"), cpu);
        assertTrue(cpu.contains("ringformer train --config configs/gpt-char-tiny.yaml --workers 2 --set "
                + "train.max_iters=5") && !cpu.contains("--devices"), cpu);
        assertEquals(1, parseEveryRingformerCommand(cpu), cpu);

        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path smi = bin.resolve("nvidia-smi");
        Files.writeString(smi, "#!/bin/sh\necho 'GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-a)'\n"
                + "echo 'GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-b)'\n");
        smi.toFile().setExecutable(true);
        Map<String, String> twoGpus = Map.of("PATH", bin + ":/usr/bin:/bin");
        String gpu = script(twoGpus, 0, "launch/multi-gpu.sh", "--gpus", "2", "--config", "configs/gpt-char-tiny.yaml",
                "--dry-run");
        assertTrue(gpu.contains("mvn\\ -B\\ -q\\ -Pcuda") && gpu.contains("2 workers on GPUs 0,1"), gpu);
        assertTrue(gpu.contains("--workers 2 --devices 0\\,1"), gpu);
        assertEquals(1, parseEveryRingformerCommand(gpu), gpu);
        String tooMany = script(twoGpus, 2, "launch/multi-gpu.sh", "--gpus", "3", "--config",
                "configs/gpt-char-tiny.yaml", "--dry-run");
        assertTrue(tooMany.contains("--gpus 3 but nvidia-smi lists 2 GPU(s)"), tooMany);
    }

    @Test
    @Timeout(300)
    void multiGpuTrainsWithCpuWorkersHereAndDevicesPinOneGpuPerWorker(@TempDir Path dir) throws Exception {
        String out = script(Map.of("PATH", "/usr/bin:/bin"), 0, "launch/multi-gpu.sh", "--gpus", "2", "--config",
                "configs/gpt-char-tiny.yaml", "--out", dir.resolve("cpu").toString(), "--sample", "0", "--set",
                "train.max_iters=20", "--set", "data.path=" + Cli.mobyDick());
        assertTrue(out.contains("running 2 CPU workers instead") && out.contains("rank 1 of 2 in generation 1, "
                + "shared memory") && out.contains("rank 1: state hash"), out);

        String pinned = Cli.run(dir.resolve("devices.log"), 0, 240, "train", "--config", "../configs/gpt-char-tiny.yaml",
                "--workers", "2", "--devices", "3,5", "--out", dir.resolve("gpu").toString(), "--sample", "0",
                "--set", "train.max_iters=4", "--set", "data.path=" + Cli.mobyDick());
        assertTrue(pinned.contains("worker w00: device cuda:3 (CUDA_VISIBLE_DEVICES=3)")
                && pinned.contains("worker w01: device cuda:5 (CUDA_VISIBLE_DEVICES=5)"), pinned);
        String wrong = Cli.run(dir.resolve("wrong.log"), 2, 60, "train", "--config", "../configs/gpt-char-tiny.yaml",
                "--workers", "2", "--devices", "0", "--out", dir.resolve("wrong").toString(), "--set",
                "data.path=" + Cli.mobyDick());
        assertTrue(wrong.contains("--devices names 1 GPU(s) for 2 workers"), wrong);
        assertTrue(List.of(wrong.split("\n")).stream().noneMatch(l -> l.startsWith("\tat ")), wrong);
    }
}

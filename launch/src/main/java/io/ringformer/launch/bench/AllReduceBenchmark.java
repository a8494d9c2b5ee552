package io.ringformer.launch.bench;

import io.ringformer.launch.ChildJvm;
import io.ringformer.worker.exchange.MediaDriverHost;
import io.ringformer.worker.exchange.FrameMac;
import io.ringformer.worker.exchange.GradientExchange;
import io.ringformer.worker.exchange.HierarchicalAllReduce;
import io.ringformer.worker.exchange.SharedMemoryAllReduce;
import io.ringformer.worker.exchange.RingAllReduce;
import io.ringformer.worker.exchange.Wire;
import io.aeron.Aeron;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * All-reduce of N floats among P worker processes on this machine, over one shared media driver: the median
 * time per all-reduce on rank 0, and a check that every rank got the exact sum. The processes meet through
 * files in a temporary directory (each writes its Aeron endpoint, then reads the others'). The hierarchical
 * transport plays two hosts on this one: two media drivers, the first half of the ranks on one and the rest on the
 * other, shared memory within each half and the ring over loopback UDP between the halves' first ranks.
 */
@Command(name = "allreduce", mixinStandardHelpOptions = true,
        description = "Time a ring all-reduce among worker processes (median per all-reduce).")
public final class AllReduceBenchmark implements Callable<Integer> {

    @Option(names = "--workers", defaultValue = "2", description = "Processes P (default ${DEFAULT-VALUE}).")
    int workers;
    @Option(names = "--floats", defaultValue = "10000000", description = "Floats N (default ${DEFAULT-VALUE}).")
    int floats;
    @Option(names = "--iterations", defaultValue = "20", description = "Timed all-reduces (default ${DEFAULT-VALUE}).")
    int iterations;
    @Option(names = "--warmup", defaultValue = "5", description = "Untimed all-reduces (default ${DEFAULT-VALUE}).")
    int warmup;
    @Option(names = "--transport", defaultValue = "shm,ipc", split = ",",
            description = "Comma-separated, each measured in turn: shm (a mapped file), ipc (the Aeron ring through "
                    + "one media driver), udp (the ring over loopback), auto (what a job on one host uses: shm), "
                    + "hierarchical (two drivers as two hosts: shm within each, the ring between them over UDP) "
                    + "(default ${DEFAULT-VALUE}).")
    List<String> transports;
    @Option(names = "--wire", defaultValue = "fp32", description = "fp32, bf16 or fp16 (default ${DEFAULT-VALUE}).")
    String wire;
    @Option(names = "--mac", defaultValue = "on",
            description = "on: every frame carries and verifies its SipHash MAC, as in a job; off: none "
                    + "(default ${DEFAULT-VALUE}).")
    String mac;

    @Override
    public Integer call() throws Exception {
        if (workers < 2 || floats < 1 || iterations < 1) {
            throw new io.ringformer.protocol.InputException("need --workers ≥ 2, --floats ≥ 1 and --iterations ≥ 1");
        }
        for (String transport : transports) {
            if (!List.of("shm", "ipc", "udp", "auto", "hierarchical").contains(transport)) {
                throw new io.ringformer.protocol.InputException("--transport " + transport
                        + " is not one of shm, ipc, udp, auto, hierarchical");
            }
        }
        for (String transport : transports) {
            if (measure(transport.equals("auto") ? "shm" : transport) != 0) {
                return 1;
            }
        }
        return 0;
    }

    private int measure(String transport) throws Exception {
        Path meeting = Files.createTempDirectory("ringformer-allreduce-");
        List<Process> ranks = new ArrayList<>();
        boolean twoHosts = transport.equals("hierarchical");
        try (MediaDriverHost driver = MediaDriverHost.start();
             MediaDriverHost second = twoHosts ? MediaDriverHost.start() : null) {
            for (int rank = 0; rank < workers; rank++) {
                String aeronDirectory = twoHosts && Rank.hostOf(rank, workers) == 1 ? second.directory()
                        : driver.directory();
                ranks.add(ChildJvm.start(List.of("bench", "allreduce-rank", "--dir", meeting.toString(),
                        "--aeron-dir", aeronDirectory, "--rank", "" + rank, "--workers", "" + workers,
                        "--floats", "" + floats, "--iterations", "" + iterations, "--warmup", "" + warmup,
                        "--transport", transport, "--wire", wire, "--mac", mac), "1g",
                        meeting.resolve("rank-" + rank + ".log")));
            }
            boolean ok = true;
            for (Process p : ranks) {
                ok &= p.waitFor(10, TimeUnit.MINUTES) && p.exitValue() == 0;
            }
            if (!ok) {
                for (int rank = 0; rank < workers; rank++) {
                    System.err.println("rank " + rank + ": " + Files.readString(meeting.resolve("rank-" + rank + ".log")));
                }
                return 1;
            }
            double[] millis = Arrays.stream(Files.readString(meeting.resolve("rank-0.times")).trim().split(","))
                    .mapToDouble(Double::parseDouble).sorted().toArray();
            double median = millis[millis.length / 2];
            String how = switch (transport) {
                case "shm" -> "shm: a mapped file, fp32, no frames";
                case "hierarchical" -> "hierarchical: two drivers as two hosts of " + (workers + 1) / 2 + " and "
                        + workers / 2 + ", shm within each, the ring between them over UDP, wire " + wire + ", MAC " + mac;
                default -> transport + ", wire " + wire + ", MAC " + mac;
            };
            System.out.printf("all-reduce of %,d floats among %d processes (%s): median %.1f ms "
                            + "(p10 %.1f, p90 %.1f) over %d; %.2f GB/s of buffer; sums exact on every rank%n",
                    floats, workers, how, median, millis[millis.length / 10],
                    millis[Math.min(millis.length - 1, millis.length * 9 / 10)], millis.length,
                    floats * 4.0 / (median / 1000.0) / 1e9);
            return 0;
        } finally {
            ChildJvm.stopAll(ranks);
            try (var files = Files.list(meeting)) {
                for (Path p : files.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(meeting);
        }
    }

    /** One rank of {@code bench allreduce}; started by it, not by hand. */
    @Command(name = "allreduce-rank", hidden = true)
    public static final class Rank implements Callable<Integer> {
        @Option(names = "--dir", required = true) Path meeting;
        @Option(names = "--aeron-dir", required = true) String aeronDirectory;
        @Option(names = "--rank", required = true) int rank;
        @Option(names = "--workers", required = true) int workers;
        @Option(names = "--floats", required = true) int floats;
        @Option(names = "--iterations", required = true) int iterations;
        @Option(names = "--warmup", required = true) int warmup;
        @Option(names = "--transport", required = true) String transport;
        @Option(names = "--wire", required = true) String wire;
        @Option(names = "--mac", required = true) String mac;

        @Override
        public Integer call() throws Exception {
            String channel = transport.equals("ipc") || transport.equals("shm") ? "aeron:ipc"
                    : "aeron:udp?endpoint=127.0.0.1:0";
            try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDirectory));
                 RingAllReduce.Inbox inbox = RingAllReduce.Inbox.open(aeron, channel)) {
                publish(meeting.resolve("rank-" + rank + ".endpoint"), inbox.endpoint());
                List<String> endpoints = new ArrayList<>();
                for (int r = 0; r < workers; r++) {
                    endpoints.add(await(meeting.resolve("rank-" + r + ".endpoint")));
                }
                try (GradientExchange ring = switch (transport) {
                    case "shm" -> sharedMemory(rank, endpoints);
                    case "hierarchical" -> hierarchical(aeron, inbox, endpoints);
                    default -> ring(aeron, inbox, rank, endpoints);
                }) {
                    float[] buffer = new float[floats];
                    List<Double> times = new ArrayList<>();
                    for (int i = 0; i < warmup + iterations; i++) {
                        for (int j = 0; j < floats; j++) {
                            buffer[j] = rank + 1 + (j % 7);
                        }
                        long start = System.nanoTime();
                        ring.allReduce(buffer, i);
                        if (i >= warmup) {
                            times.add((System.nanoTime() - start) / 1e6);
                        }
                    }
                    float base = workers * (workers + 1) / 2f;
                    for (int j = 0; j < floats; j++) {
                        if (buffer[j] != base + workers * (j % 7)) {
                            System.err.println("rank " + rank + ": wrong sum at " + j + ": " + buffer[j]);
                            return 1;
                        }
                    }
                    publish(meeting.resolve("rank-" + rank + ".times"),
                            times.stream().map(String::valueOf).collect(Collectors.joining(",")));
                }
            }
            return 0;
        }

        /** The "host" of {@code rank} in the hierarchical transport: 0 for the first half (rounded up), else 1. */
        static int hostOf(int rank, int workers) {
            return rank < (workers + 1) / 2 ? 0 : 1;
        }

        private SharedMemoryAllReduce sharedMemory(int rank, List<String> endpoints) {
            return new SharedMemoryAllReduce(new SharedMemoryAllReduce.Config(
                    SharedMemoryAllReduce.directoryOf(aeronDirectory), "bench", 1, rank, endpoints.size(), endpoints,
                    30_000, SharedMemoryAllReduce.DEFAULT_SLOT_FLOATS), () -> 1);
        }

        private RingAllReduce ring(Aeron aeron, RingAllReduce.Inbox inbox, int rank, List<String> endpoints) {
            return new RingAllReduce(aeron, inbox, new RingAllReduce.Config("bench", 1, rank, endpoints.size(),
                    endpoints, 30_000, Wire.parse(wire), mac.equals("on") ? FrameMac.ofToken("bench") : null));
        }

        /** Shared memory among this rank's half, the ring between the halves' first ranks. */
        private HierarchicalAllReduce hierarchical(Aeron aeron, RingAllReduce.Inbox inbox, List<String> endpoints) {
            int host = hostOf(rank, workers);
            int first = host == 0 ? 0 : (workers + 1) / 2;
            int end = host == 0 ? (workers + 1) / 2 : workers;
            SharedMemoryAllReduce shared = end - first == 1 ? null : new SharedMemoryAllReduce(
                    new SharedMemoryAllReduce.Config(SharedMemoryAllReduce.directoryOf(aeronDirectory), "bench", 1,
                            rank - first, end - first, endpoints.subList(first, end), 30_000,
                            SharedMemoryAllReduce.DEFAULT_SLOT_FLOATS), () -> 1);
            List<String> leaders = List.of(endpoints.get(0), endpoints.get((workers + 1) / 2));
            return new HierarchicalAllReduce(rank, workers, shared, rank == first ? ring(aeron, inbox, host, leaders)
                    : null);
        }

        private static void publish(Path file, String content) throws IOException {
            Path partial = file.resolveSibling(file.getFileName() + ".partial");
            Files.writeString(partial, content);
            Files.move(partial, file, StandardCopyOption.ATOMIC_MOVE);
        }

        private static String await(Path file) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.exists(file)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("no endpoint from " + file.getFileName() + " within 60 s");
                }
                Thread.sleep(20);
            }
            try {
                return Files.readString(file).trim();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}

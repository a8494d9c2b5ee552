package io.ringformer.launch;

import io.ringformer.worker.checkpoint.CheckpointStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code ringformer checkpoints list|verify DIR}. */
@Command(name = "checkpoints", mixinStandardHelpOptions = true, description = "List or verify checkpoints.",
        subcommands = {CheckpointsCommand.ListCommand.class, CheckpointsCommand.VerifyCommand.class})
public final class CheckpointsCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Prints one line per checkpoint; returns how many are invalid. */
    static int report(Path directory) {
        List<Path> all = CheckpointStore.at(directory).checkpoints();
        if (all.isEmpty()) {
            throw new UsageException("no checkpoints in " + directory);
        }
        int invalid = 0;
        System.out.printf("%-16s %8s %10s %10s %10s  %s%n", "checkpoint", "step", "loss", "val_loss", "size", "check");
        for (Path checkpoint : all) {
            String problem = CheckpointStore.verify(checkpoint);
            invalid += problem == null ? 0 : 1;
            Map<?, ?> info = info(checkpoint);
            System.out.printf("%-16s %8d %10s %10s %9.1fM  %s%n", checkpoint.getFileName(),
                    CheckpointStore.stepOf(checkpoint), figure(info.get("loss")), figure(info.get("val_loss")),
                    size(checkpoint) / 1e6, problem == null ? "ok (SHA-256 verified)" : "INVALID: " + problem);
        }
        return invalid;
    }

    private static Map<?, ?> info(Path checkpoint) {
        try {
            Map<?, ?> state = new com.fasterxml.jackson.databind.ObjectMapper()
                    .readValue(checkpoint.resolve(CheckpointStore.STATE).toFile(), Map.class);
            return state.get("info") instanceof Map<?, ?> m ? m : Map.of();
        } catch (IOException | RuntimeException e) {
            return Map.of();
        }
    }

    private static String figure(Object value) {
        return value instanceof Number n && Double.isFinite(n.doubleValue()) ? String.format("%.4f", n.doubleValue())
                : "-";
    }

    private static long size(Path directory) {
        try (Stream<Path> files = Files.walk(directory)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Steps, losses, sizes, checksum status.")
    static final class ListCommand implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", description = "A run directory or its checkpoints/ folder.")
        Path directory;

        @Override
        public Integer call() {
            report(directory);
            return 0;
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = "Check every file against the manifest; exit 1 if any checkpoint is invalid.")
    static final class VerifyCommand implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", description = "A run directory or its checkpoints/ folder.")
        Path directory;

        @Override
        public Integer call() {
            return report(directory) == 0 ? 0 : 1;
        }
    }
}

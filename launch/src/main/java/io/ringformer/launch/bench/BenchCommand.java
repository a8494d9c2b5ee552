package io.ringformer.launch.bench;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ringformer bench …}: benchmarks are commands that print figures, never timed assertions in tests. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Measure speed.",
        subcommands = {TrainBenchmark.class, ModelBenchmark.class, AllReduceBenchmark.class,
                AllReduceBenchmark.Rank.class, MacBenchmark.class,
                AttentionBenchmark.class})
public final class BenchCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}

package io.ringformer.launch;

import io.ringformer.launch.bench.BenchCommand;
import io.ringformer.worker.checkpoint.CheckpointException;
import java.io.UncheckedIOException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code ringformer} command line. Every subcommand has {@code --help}. */
@Command(name = "ringformer", mixinStandardHelpOptions = true, version = "ringformer 0.1.0",
        description = "Train transformer models on a cluster, from Java.",
        subcommands = {TrainCommand.class, GenerateCommand.class, EvalCommand.class, CheckpointsCommand.class,
                WorkerCommand.class, CoordinatorCommand.class, StatusCommand.class, ZooKeeperCommand.class,
                BenchCommand.class})
public final class Ringformer implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** Usage errors exit with 2 and one line, no stack trace. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Ringformer());
        cli.setParameterExceptionHandler((e, a) -> {
            e.getCommandLine().getErr().println("ringformer: " + e.getMessage()
                    + " (see '" + e.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            // Bad input (config, files, checkpoints) is the user's to fix: one line, exit 2, no stack trace.
            if (e instanceof IllegalArgumentException || e instanceof CheckpointException) {
                commandLine.getErr().println("ringformer: " + e.getMessage());
                return 2;
            }
            if (e instanceof UncheckedIOException io) {
                commandLine.getErr().println("ringformer: " + io.getMessage());
                return 1;
            }
            throw e;
        });
        return cli;
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}

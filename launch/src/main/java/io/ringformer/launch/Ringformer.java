package io.ringformer.launch;

import io.ringformer.launch.bench.BenchCommand;
import io.ringformer.protocol.InputException;
import io.ringformer.protocol.ZkAuth;
import org.apache.zookeeper.KeeperException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code ringformer} command line. Every subcommand has {@code --help}. */
@Command(name = "ringformer", mixinStandardHelpOptions = true, version = "ringformer 0.1.0",
        description = "Train transformer models on a cluster, from Java.",
        subcommands = {TrainCommand.class, GenerateCommand.class, PredictNextCommand.class, EvalCommand.class, CheckpointsCommand.class,
                ClassifyCommand.class, FillMaskCommand.class, TranslateCommand.class, AttentionMapCommand.class, ExportCommand.class, MetricsCommand.class,
                WorkerCommand.class, MediaDriverCommand.class,
                CoordinatorCommand.class, StatusCommand.class, ZooKeeperCommand.class, BenchCommand.class, TokenizerCommand.class})
public final class Ringformer implements Runnable {

    @CommandLine.Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "On an error, print its stack trace too.")
    boolean verbose;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /**
     * Exit codes: 0 done, 2 bad input ({@link InputException}: usage, config, data, checkpoint, job spec, address,
     * a port in use, missing ZooKeeper credentials or ones ZooKeeper refuses; picocli's own parameter errors), 1 any
     * other failure, 130 interrupted. Errors are one line on stderr, no stack
     * trace; {@code --verbose} (anywhere on the command line) adds the trace.
     */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Ringformer());
        cli.setParameterExceptionHandler((e, a) -> {
            e.getCommandLine().getErr().println("ringformer: " + e.getMessage()
                    + " (see '" + e.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        cli.setExecutionExceptionHandler((thrown, commandLine, parseResult) -> {
            Exception e = asInputError(thrown);
            boolean verbose = parseResult.originalArgs().contains("--verbose");
            commandLine.getErr().println("ringformer: " + oneLine(e));
            if (verbose) {
                e.printStackTrace(commandLine.getErr());
            } else if (!(e instanceof InputException)) {
                commandLine.getErr().println("ringformer: (add --verbose for the stack trace)");
            }
            return e instanceof InputException ? 2 : 1;
        });
        return cli;
    }

    /**
     * ZooKeeper refusing this process's credentials (none, or others than the job's) is the user's to fix: an
     * {@link InputException} saying how; any other exception is returned as it is.
     */
    static Exception asInputError(Exception e) {
        for (Throwable cause = e; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            if (cause instanceof KeeperException.NoAuthException || cause instanceof KeeperException.AuthFailedException) {
                String path = ((KeeperException) cause).getPath();
                InputException input = new InputException("ZooKeeper refused access" + (path != null ? " to " + path
                        : "") + " (" + ((KeeperException) cause).code() + "): the job's znodes have digest ACLs; give "
                        + "its credentials with --zk-auth USER:PASSWORD or " + ZkAuth.ENVIRONMENT);
                input.initCause(e);
                return input;
            }
        }
        return e;
    }

    /** The message of a failure on one line: its own, or for a bare exception its type and its cause's. */
    static String oneLine(Throwable e) {
        if (e instanceof InputException || e instanceof java.io.UncheckedIOException) {
            return firstLine(e.getMessage());
        }
        StringBuilder line = new StringBuilder(e.getMessage() != null ? firstLine(e.getMessage())
                : e.getClass().getSimpleName());
        for (Throwable cause = e.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
            if (cause.getMessage() != null && !line.toString().contains(cause.getMessage())) {
                line.append(": ").append(firstLine(cause.getMessage()));
            }
        }
        return line.toString();
    }

    private static String firstLine(String message) {
        return message == null ? "" : message.lines().findFirst().orElse("");
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}

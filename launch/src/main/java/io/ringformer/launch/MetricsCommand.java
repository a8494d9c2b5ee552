package io.ringformer.launch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code ringformer metrics plot RUN_DIR}: redraws a run's loss.png from its metrics.jsonl, with training panels. */
@Command(name = "metrics", mixinStandardHelpOptions = true, description = "Work with a run's metrics.jsonl.",
        subcommands = MetricsCommand.Plot.class)
public final class MetricsCommand implements Runnable {

    @Override
    public void run() {
        throw new UsageException("say what to do: ringformer metrics plot RUN_DIR");
    }

    /** Redraws loss.png: the losses, the family's metrics, throughput and gradient norm. */
    @Command(name = "plot", mixinStandardHelpOptions = true,
            description = "Redraw RUN_DIR/loss.png from RUN_DIR/metrics.jsonl, adding throughput and gradient-norm panels.")
    static final class Plot implements Callable<Integer> {

        @Parameters(paramLabel = "RUN_DIR", description = "A run directory (it holds metrics.jsonl).")
        Path run;

        @Override
        public Integer call() throws Exception {
            Path metrics = run.resolve("metrics.jsonl");
            if (!Files.isRegularFile(metrics)) {
                throw new UsageException(metrics + " not found: give a run directory (the --out of train)");
            }
            LossPlot plot = new LossPlot(run.resolve("loss.png")).withTraining();
            plot.replay(metrics);
            plot.write();
            System.out.println("drew " + run.resolve("loss.png"));
            return 0;
        }
    }
}

package io.ringformer.launch;

import io.ringformer.worker.Trainer;
import io.ringformer.worker.TrainingRun;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;
import java.time.Duration;

/**
 * What a person sees while training. On a terminal: one line redrawn in place, a bar with step, loss, tokens/s
 * and ETA. Without one (a pipe, a log file, CI): one plain line per log interval, no carriage returns. Either
 * way, evaluations and checkpoints get lines of their own, and loss.png is rewritten at each evaluation (in the
 * background; {@link #close} waits for it). A
 * resumed run first redraws loss.png from {@code metrics.jsonl} (which the run has cut back to the checkpoint's
 * step), so the plot shows one history.
 */
final class ProgressView implements TrainingRun.Listener, AutoCloseable {

    private static final int BAR_WIDTH = 24;

    private final PrintStream out;
    private final boolean terminal;
    private final LossPlot plot;
    private final Path metricsFile;
    private long firstStep;
    private long lastStep;
    private long startedNanos;
    private String unit = "tok";
    private boolean lineOpen;

    ProgressView(PrintStream out, boolean terminal, Path runDirectory) {
        this.out = out;
        this.terminal = terminal;
        this.plot = new LossPlot(runDirectory.resolve("loss.png"));
        this.metricsFile = runDirectory.resolve("metrics.jsonl");
    }

    @Override
    public void started(long firstStep, long lastStep, int parameters, String items) {
        this.unit = items.equals("tokens") ? "tok" : items;
        this.firstStep = firstStep;
        this.lastStep = lastStep;
        this.startedNanos = System.nanoTime();
        if (firstStep > 0) {
            try {
                plot.replay(metricsFile);
                plot.write();
            } catch (IOException e) {
                line("could not redraw loss.png from metrics.jsonl: " + e.getMessage());
            }
        }
        line(String.format("training %,d parameters, steps %d → %d", parameters, firstStep, lastStep));
    }

    @Override
    public void stepped(Trainer.StepResult r, double tokensPerSecond) {
        long done = r.step() + 1;
        plot.step(done, r.loss());
        double elapsedSeconds = (System.nanoTime() - startedNanos) / 1e9;
        double perStep = elapsedSeconds / Math.max(1, done - firstStep);
        String eta = format(Duration.ofSeconds(Math.round(perStep * (lastStep - done))));
        String figures = String.format("step %d/%d  loss %.4f  lr %.2e  %,.0f %s/s  ETA %s%s", done, lastStep,
                r.loss(), r.lr(), tokensPerSecond, unit, eta, r.applied() ? "" : "  (step skipped: overflow)");
        if (terminal) {
            int filled = (int) (BAR_WIDTH * done / Math.max(1, lastStep));
            out.print("\r[" + "=".repeat(filled) + " ".repeat(BAR_WIDTH - filled) + "] " + figures + "\033[K");
            out.flush();
            lineOpen = true;
        } else {
            out.println(figures);
        }
    }

    @Override
    public void evaluated(long step, double trainLoss, double valLoss, Map<String, Double> metrics) {
        plot.evaluation(step, trainLoss, valLoss, metrics);
        plot.writeLater(this::line);
        StringBuilder others = new StringBuilder();
        metrics.forEach((name, value) -> others.append(String.format(", %s %.4f", name, value)));
        line(String.format("step %d: train loss %.4f, val loss %.4f%s", step, trainLoss, valLoss, others));
    }

    @Override
    public void checkpointed(Path checkpoint, long writeMs) {
        line("checkpoint " + checkpoint + " (written in " + writeMs + " ms)");
    }

    /** Lets the last loss.png be written (at most 30 s). */
    @Override
    public void close() throws InterruptedException {
        plot.finish(30_000);
    }

    /** A line of its own, closing the progress line first. */
    void line(String text) {
        if (lineOpen) {
            out.println();
            lineOpen = false;
        }
        out.println(text);
    }

    private static String format(Duration d) {
        return d.toHours() > 0 ? String.format("%dh%02dm", d.toHours(), d.toMinutesPart())
                : String.format("%dm%02ds", d.toMinutes(), d.toSecondsPart());
    }
}

package io.ringformer.launch;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * {@code loss.png}: train (every logged step, and at evaluations) and val loss against the step, and beside it one
 * panel per other metric the family evaluates (its {@code val_<metric>} in metrics.jsonl: accuracy for ViT;
 * mlm_loss, mlm_accuracy and nsp_accuracy for BERT), in a grid of two columns. {@code ringformer metrics plot}
 * adds two panels of the logged steps: throughput ({@code <items>_per_s}) and the gradient norm.
 */
final class LossPlot {

    private final Path file;
    private final List<Double> steps = new ArrayList<>();
    private final List<Double> losses = new ArrayList<>();
    private final List<Double> evalSteps = new ArrayList<>();
    private final List<Double> trainLosses = new ArrayList<>();
    private final List<Double> valLosses = new ArrayList<>();
    private final Map<String, Series> metrics = new LinkedHashMap<>();
    private final Map<String, Series> training = new LinkedHashMap<>();     // per logged step, with withTraining
    private boolean withTraining;
    private final ExecutorService writer = Executors.newSingleThreadExecutor(task -> {
        Thread thread = new Thread(task, "loss-plot");
        thread.setDaemon(true);
        return thread;
    });

    /** One metric's evaluations: the steps and the values. */
    private record Series(List<Double> steps, List<Double> values) {}

    LossPlot(Path file) {
        this.file = file;
    }

    /** Also draws the logged steps' throughput and gradient norm (replayed from metrics.jsonl). */
    LossPlot withTraining() {
        withTraining = true;
        return this;
    }

    /** Adds every record of a {@code metrics.jsonl}: losses of logged steps, and evaluations. */
    void replay(Path metrics) throws IOException {
        if (!Files.exists(metrics)) {
            return;
        }
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (String line : Files.readAllLines(metrics)) {
            Map<?, ?> record;
            try {
                record = json.readValue(line, Map.class);
            } catch (IOException e) {
                continue; // a line torn by a crash
            }
            if (!(record.get("step") instanceof Number step)) {
                continue;
            }
            if (record.get("loss") instanceof Number loss) {
                step(step.longValue(), loss.doubleValue());
                record.forEach((key, value) -> {
                    if (key instanceof String name && (name.endsWith("_per_s") || name.equals("grad_norm"))
                            && value instanceof Number number && Double.isFinite(number.doubleValue())) {
                        Series series = training.computeIfAbsent(name, k -> new Series(new ArrayList<>(),
                                new ArrayList<>()));
                        series.steps().add(step.doubleValue());
                        series.values().add(number.doubleValue());
                    }
                });
            }
            if (record.get("val_loss") instanceof Number val && record.get("train_loss") instanceof Number train) {
                Map<String, Double> values = new LinkedHashMap<>();
                record.forEach((key, value) -> {
                    if (key instanceof String name && name.startsWith("val_") && value instanceof Number number) {
                        values.put(name.substring("val_".length()), number.doubleValue());
                    }
                });
                evaluation(step.longValue(), train.doubleValue(), val.doubleValue(), values);
            }
        }
    }

    void step(long step, double loss) {
        if (Double.isFinite(loss)) {
            steps.add((double) step);
            losses.add(loss);
        }
    }

    /** An evaluation: the losses and the family's metrics by name ({@code loss} among them is not drawn twice). */
    void evaluation(long step, double train, double val, Map<String, Double> values) {
        evalSteps.add((double) step);
        trainLosses.add(train);
        valLosses.add(val);
        values.forEach((name, value) -> {
            if (!name.equals("loss") && Double.isFinite(value)) {
                Series series = metrics.computeIfAbsent(name, k -> new Series(new ArrayList<>(), new ArrayList<>()));
                series.steps().add((double) step);
                series.values().add(value);
            }
        });
    }

    /** Rewrites the PNG (atomically, so a viewer never sees half a file). */
    void write() throws IOException {
        save(charts());
    }

    /**
     * As {@link #write}, with the drawing and PNG encoding (tens of milliseconds, half a second the first time, when
     * AWT starts) in a background thread, off the training loop. The charts hold a copy of the data as it is now;
     * writes happen in order, so the newest is the file left. Errors go to {@code log}.
     */
    void writeLater(Consumer<String> log) {
        List<XYChart> charts = charts();
        writer.execute(() -> {
            try {
                save(charts);
            } catch (IOException | RuntimeException e) {
                log.accept("could not write loss.png: " + e.getMessage());
            }
        });
    }

    /** Waits for the writes in flight (at most {@code timeoutMs}) and stops the writer. */
    void finish(long timeoutMs) throws InterruptedException {
        writer.shutdown();
        writer.awaitTermination(timeoutMs, TimeUnit.MILLISECONDS);
    }

    /** The loss chart and one panel per metric, from the data as it is now (XChart copies the series). */
    private List<XYChart> charts() {
        XYChart chart = new XYChartBuilder().width(900).height(540).title("ringformer training loss")
                .xAxisTitle("step").yAxisTitle("cross-entropy (nats)").build();
        chart.getStyler().setMarkerSize(5);
        if (steps.size() > 1) {
            chart.addSeries("train (batch)", steps, losses).setMarker(SeriesMarkers.NONE);
        }
        if (!evalSteps.isEmpty()) {
            chart.addSeries("train (eval)", evalSteps, trainLosses);
            chart.addSeries("val", evalSteps, valLosses);
        }
        if (chart.getSeriesMap().isEmpty()) {
            return List.of();
        }
        List<XYChart> charts = new ArrayList<>(List.of(chart));
        metrics.forEach((name, series) -> charts.add(panel("val " + name, name, series, true)));
        if (withTraining) {
            training.forEach((name, series) -> charts.add(name.equals("grad_norm")
                    ? panel("gradient norm (before clipping)", "global L2 norm", series, false)
                    : panel("throughput", name.replace("_per_s", " per second"), series, false)));
        }
        return charts;
    }

    private static XYChart panel(String title, String axis, Series series, boolean markers) {
        XYChart panel = new XYChartBuilder().width(900).height(540).title(title).xAxisTitle("step").yAxisTitle(axis)
                .build();
        panel.getStyler().setMarkerSize(5);
        panel.getStyler().setLegendVisible(false);
        panel.addSeries(axis, series.steps(), series.values()).setMarker(markers ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
        return panel;
    }

    private void save(List<XYChart> charts) throws IOException {
        if (charts.isEmpty()) {
            return;
        }
        Path temporary = file.resolveSibling(".loss-partial.png");
        int columns = Math.min(2, charts.size());
        int rows = (charts.size() + columns - 1) / columns;
        int width = charts.get(0).getWidth();
        int height = charts.get(0).getHeight();
        BufferedImage grid = new BufferedImage(columns * width, rows * height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = grid.createGraphics();
        g.setColor(Color.WHITE);                                   // an odd panel count leaves the last cell white
        g.fillRect(0, 0, grid.getWidth(), grid.getHeight());
        for (int i = 0; i < charts.size(); i++) {
            g.drawImage(BitmapEncoder.getBufferedImage(charts.get(i)), (i % columns) * width, (i / columns) * height,
                    null);
        }
        g.dispose();
        ImageIO.write(grid, "png", temporary.toFile());
        Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}

package io.ringformer.launch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** {@code loss.png}: train (every logged step, and at evaluations) and val loss against the step. */
final class LossPlot {

    private final Path file;
    private final List<Double> steps = new ArrayList<>();
    private final List<Double> losses = new ArrayList<>();
    private final List<Double> evalSteps = new ArrayList<>();
    private final List<Double> trainLosses = new ArrayList<>();
    private final List<Double> valLosses = new ArrayList<>();

    LossPlot(Path file) {
        this.file = file;
    }

    /** Adds every record of a {@code metrics.jsonl}: losses of logged steps, and evaluations. */
    void replay(Path metrics) throws IOException {
        if (!Files.exists(metrics)) {
            return;
        }
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (String line : Files.readAllLines(metrics)) {
            java.util.Map<?, ?> record;
            try {
                record = json.readValue(line, java.util.Map.class);
            } catch (IOException e) {
                continue; // a line torn by a crash
            }
            if (!(record.get("step") instanceof Number step)) {
                continue;
            }
            if (record.get("loss") instanceof Number loss) {
                step(step.longValue(), loss.doubleValue());
            }
            if (record.get("val_loss") instanceof Number val && record.get("train_loss") instanceof Number train) {
                evaluation(step.longValue(), train.doubleValue(), val.doubleValue());
            }
        }
    }

    void step(long step, double loss) {
        if (Double.isFinite(loss)) {
            steps.add((double) step);
            losses.add(loss);
        }
    }

    void evaluation(long step, double train, double val) {
        evalSteps.add((double) step);
        trainLosses.add(train);
        valLosses.add(val);
    }

    /** Rewrites the PNG (atomically, so a viewer never sees half a file). */
    void write() throws IOException {
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
            return;
        }
        Path temporary = file.resolveSibling(".loss-partial.png"); // XChart insists on the .png suffix
        BitmapEncoder.saveBitmap(chart, temporary.toString(), BitmapEncoder.BitmapFormat.PNG);
        Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}

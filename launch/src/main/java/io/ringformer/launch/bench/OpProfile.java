package io.ringformer.launch.bench;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.listeners.At;
import org.nd4j.autodiff.listeners.BaseListener;
import org.nd4j.autodiff.listeners.Operation;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.internal.SameDiffOp;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.dataset.api.MultiDataSet;

/**
 * Wall time per op type, summed over the steps it listened to: time from the call before an op's execution to
 * the call after it. The gaps between ops (session bookkeeping) are reported as one line of their own.
 */
public final class OpProfile extends BaseListener {

    private final Map<String, long[]> byOpType = new HashMap<>(); // op type → {nanos, count}
    private long started;
    private long lastEnded;
    private long gapNanos;
    private boolean active;

    public void start() {
        active = true;
        lastEnded = 0;
    }

    public void stop() {
        active = false;
    }

    @Override
    public boolean isActive(Operation operation) {
        return true;
    }

    @Override
    public void preOpExecution(SameDiff sd, At at, SameDiffOp op, OpContext context) {
        started = System.nanoTime();
        if (active && lastEnded != 0) {
            gapNanos += started - lastEnded;
        }
    }

    @Override
    public void opExecution(SameDiff sd, At at, MultiDataSet batch, SameDiffOp op, OpContext context,
                            INDArray[] outputs) {
        lastEnded = System.nanoTime();
        if (active) {
            long[] entry = byOpType.computeIfAbsent(op.getOp().opName(), k -> new long[2]);
            entry[0] += lastEnded - started;
            entry[1]++;
        }
    }

    /** Lines of "op type, ms per step, calls per step, share", largest first. */
    public List<String> table(int steps) {
        long total = gapNanos + byOpType.values().stream().mapToLong(e -> e[0]).sum();
        List<Map.Entry<String, long[]>> rows = new ArrayList<>(byOpType.entrySet());
        rows.sort((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0]));
        List<String> lines = new ArrayList<>();
        lines.add(String.format("%-28s %10s %8s %7s", "op", "ms/step", "calls", "share"));
        for (Map.Entry<String, long[]> row : rows) {
            lines.add(line(row.getKey(), row.getValue()[0], row.getValue()[1], steps, total));
        }
        lines.add(line("(between ops)", gapNanos, 0, steps, total));
        return lines;
    }

    private static String line(String name, long nanos, long calls, int steps, long total) {
        return String.format("%-28s %10.2f %8d %6.1f%%", name, nanos / 1e6 / steps, calls / steps,
                100.0 * nanos / Math.max(1, total));
    }
}

package io.ringformer.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code metrics.jsonl}, one JSON record per line, each with its {@code step}. A run resumed from the checkpoint
 * of step s repeats the steps after s that the interrupted run had already logged, so before it appends,
 * {@link #keepUpTo} cuts the file back to the records of steps ≤ s: the file then holds one history. The cut is
 * written to a temporary file and renamed over the old one, so a crash leaves one or the other.
 */
public final class MetricsFile {

    private static final ObjectMapper JSON = new ObjectMapper();

    private MetricsFile() {}

    /**
     * Keeps the records whose step is at most {@code step}; a line that is no record (torn by a crash) goes too.
     * Returns how many lines were dropped.
     */
    public static int keepUpTo(Path file, long step) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (NoSuchFileException e) {
            return 0;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        List<String> kept = new ArrayList<>();
        for (String line : lines) {
            try {
                if (JSON.readValue(line, Map.class).get("step") instanceof Number recorded
                        && recorded.longValue() <= step) {
                    kept.add(line);
                }
            } catch (IOException e) {
                // a line torn by a crash: not a record, dropped
            }
        }
        if (kept.size() == lines.size()) {
            return 0;
        }
        Path temporary = file.resolveSibling("." + file.getFileName() + ".tmp");
        try {
            Files.write(temporary, kept);
            Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot rewrite " + file, e);
        }
        return lines.size() - kept.size();
    }

    /** The training loss of every logged step (evaluation records aside), in the file's order. */
    public static Map<Long, Double> losses(Path file) {
        Map<Long, Double> losses = new LinkedHashMap<>();
        for (Map<String, Object> record : records(file)) {
            if (record.get("loss") instanceof Number loss && record.get("step") instanceof Number step) {
                losses.put(step.longValue(), loss.doubleValue());
            }
        }
        return losses;
    }

    /** Every record, in the file's order. */
    @SuppressWarnings("unchecked")
    public static List<Map<String, Object>> records(Path file) {
        List<Map<String, Object>> records = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(file)) {
                records.add(JSON.readValue(line, Map.class));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        return records;
    }

    /** Appends records, opening the file on the first one (only rank 0 records). */
    public static final class Appender implements AutoCloseable {

        private final Path file;
        private BufferedWriter writer;

        public Appender(Path file) {
            this.file = file;
        }

        /** One record: {@code step} first, then the other values in their order. */
        public void record(Map<String, Object> values) {
            Map<String, Object> ordered = new LinkedHashMap<>();
            ordered.put("step", values.get("step"));
            values.forEach(ordered::putIfAbsent);
            try {
                if (writer == null) {
                    writer = Files.newBufferedWriter(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                }
                writer.write(JSON.writeValueAsString(ordered));
                writer.newLine();
                writer.flush();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write metrics to " + file, e);
            }
        }

        @Override
        public void close() {
            if (writer != null) {
                try {
                    writer.close();
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot close " + file, e);
                }
            }
        }
    }
}

package io.ringformer.worker;

import io.ringformer.zoo.family.Artifact;
import io.ringformer.zoo.family.ModelFamily;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A rough estimate of the memory one replica of a config needs, checked before anything is built or written, so
 * that a model that cannot fit is one line naming what to lower instead of an {@link OutOfMemoryError} minutes
 * later (or the kernel's OOM killer).
 *
 * <p>What it counts, in fp32 (4 bytes a value):
 * <ul>
 *   <li><b>Java heap</b>: the trainer's flat master parameters, gradient buffer and AdamW's two moments — four
 *       arrays of P values — plus 64 MiB for the rest of the JVM's own objects.</li>
 *   <li><b>Native memory</b> (ND4J and oneDNN, off the heap): the SameDiff graph's copy of the parameters, the
 *       fused step's copy and a bf16 shadow, and the activations one step keeps for its backward pass, per row
 *       as the family counts them ({@link ModelFamily#footprint}). The SameDiff backend keeps more intermediates than the fused step: its
 *       activations count twice.</li>
 * </ul>
 * The rows are this rank's share of {@code train.batch_size} (all of them in a world of one): the fused backend
 * plans for every row of its share, whatever {@code train.grad_accum}. It is an estimate within a small factor,
 * not a measurement: {@link #check} refuses only what cannot fit — heap beyond the JVM's maximum, or heap plus
 * native beyond the machine's memory ({@code MemTotal} in /proc/meminfo).
 *
 * @param parameters  trainable values of the model, as the family counts them
 * @param heapBytes   the Java heap the replica needs
 * @param nativeBytes native memory beside it
 */
public record MemoryEstimate(long parameters, long heapBytes, long nativeBytes) {

    private static final long JVM_BASELINE_BYTES = 64L << 20;
    private static final long BYTES_PER_VALUE = 4;
    private static final Pattern MEM_TOTAL = Pattern.compile("(?m)^MemTotal:\\s+(\\d+)\\s+kB");

    /** The estimate for one replica of {@code config}'s model, its family's artifact sizing it, as rank 0 of {@code world}. */
    public static MemoryEstimate of(TrainConfig config, Artifact artifact, int worldSize) {
        // in double: the largest configs in range overflow a long (and are refused, as they should be)
        ModelFamily.Footprint footprint = config.family().footprint(config, artifact);
        double batch = config.getInt("train.batch_size");
        double rows = Math.ceil(batch / Math.max(1, worldSize));
        double parameters = footprint.parameters();
        double activations = rows * footprint.activationValuesPerRow();
        if (config.getString("model.backend").equals("samediff")) {
            activations *= 2;
        }
        double heap = 4 * parameters * BYTES_PER_VALUE + JVM_BASELINE_BYTES;
        double nativeValues = parameters * 2.5 + activations;     // the graph's copy, the fused copy, a bf16 shadow
        return new MemoryEstimate(saturated(parameters), saturated(heap), saturated(nativeValues * BYTES_PER_VALUE));
    }

    private static long saturated(double value) {
        return value >= Long.MAX_VALUE / 2.0 ? Long.MAX_VALUE / 2 : (long) value;
    }

    /** Heap plus native memory. */
    public long totalBytes() {
        return heapBytes + nativeBytes;
    }

    /**
     * Refuses, with a {@link ConfigException} that says how much is needed, how much there is and which keys to
     * lower, an estimate that exceeds {@code maxHeapBytes} of heap or {@code machineBytes} in all.
     */
    public void check(long maxHeapBytes, long machineBytes) {
        check(maxHeapBytes, machineBytes, 1);
    }

    /** As {@link #check(long, long)} for {@code replicas} replicas on one machine, each in a JVM of its own. */
    public void check(long maxHeapBytes, long machineBytes, int replicas) {
        if (heapBytes > maxHeapBytes) {
            throw new ConfigException(String.format(Locale.ROOT, "the model has %,d parameters and needs about %s "
                    + "of Java heap for them, their gradients and AdamW's moments, but this JVM may use %s: lower "
                    + "model.n_layer or model.n_embd, or give the JVM more heap (-Xmx in RINGFORMER_JAVA_OPTS)",
                    parameters, size(heapBytes), size(maxHeapBytes)));
        }
        double all = (double) totalBytes() * Math.max(1, replicas);
        if (all > machineBytes) {
            throw new ConfigException(String.format(Locale.ROOT, "training this config needs about %s%s (%s for "
                    + "%,d parameters with gradients and optimizer state, %s native memory for the model copies and "
                    + "the activations of train.batch_size rows), but this machine has %s: lower train.batch_size, "
                    + "the rows' length (model.block_size, or the image's patches), or model.n_layer or model.n_embd",
                    size((long) Math.min(all, Long.MAX_VALUE / 2)), replicas > 1 ? " for " + replicas + " workers"
                            : "", size(heapBytes), parameters, size(nativeBytes), size(machineBytes)));
        }
    }

    /** {@link #check(long, long)} against this JVM's maximum heap and this machine's memory. */
    public void checkHere() {
        check(Runtime.getRuntime().maxMemory(), machineMemoryBytes().orElse(Long.MAX_VALUE));
    }

    /** {@code MemTotal} from /proc/meminfo, or empty where there is none. */
    public static OptionalLong machineMemoryBytes() {
        try {
            Matcher total = MEM_TOTAL.matcher(Files.readString(Path.of("/proc/meminfo")));
            return total.find() ? OptionalLong.of(Long.parseLong(total.group(1)) * 1024) : OptionalLong.empty();
        } catch (IOException | RuntimeException e) {
            return OptionalLong.empty();
        }
    }

    /** A size for people: 1.5 GiB, 300 MiB, 12 KiB. */
    static String size(long bytes) {
        if (bytes >= 1L << 40) {
            return String.format(Locale.ROOT, "%.1f TiB", bytes / (double) (1L << 40));
        }
        if (bytes >= 1L << 30) {
            return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
        }
        if (bytes >= 1L << 20) {
            return String.format(Locale.ROOT, "%d MiB", bytes >> 20);
        }
        return String.format(Locale.ROOT, "%d KiB", Math.max(1, bytes >> 10));
    }
}

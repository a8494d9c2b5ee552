package io.ringformer.worker;

import io.ringformer.worker.exchange.GradientExchange;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Makes every replica of a freshly formed ring hold the same training state, bit for bit: step 4 of the elastic
 * protocol narrated in {@link ElasticExchange}. Three collective calls at most, all exact (fp32 on the wire):
 *
 * <ol>
 *   <li><b>Agree.</b> Each rank fills its own slot of a small vector, the others' slots hold 0: whether it holds
 *       state, its next step, a 64-bit hash of its state and its parameter count, each cut into pieces below
 *       2^24 so that a float carries them exactly. After the all-reduce every rank reads every slot.</li>
 *   <li><b>Transfer</b> (only when some rank differs from the source: the most advanced rank holding state,
 *       lowest rank among equals). The source writes parameters, both AdamW moments and its counters into one
 *       buffer; every other rank writes −0.0, so the sum is exactly the source's values. Ranks that differed
 *       take them.</li>
 *   <li><b>Verify</b> (after a transfer): a second agreement; every hash must equal the source's.</li>
 * </ol>
 */
final class ReplicaSync {

    /** What the ranks agreed on. */
    record Outcome(long step, int source, int receivers, boolean leaderBoundaryDone, double millis) {}

    // The frames of these collectives carry these "steps", far from any training or evaluation step.
    private static final long AGREE = Long.MIN_VALUE + 1;
    private static final long TRANSFER = Long.MIN_VALUE + 2;
    private static final long VERIFY = Long.MIN_VALUE + 3;

    private static final int SLOT = 10;      // holds, step (2), hash (4), count (2), boundary
    private static final int PIECE = 1 << 24;

    private ReplicaSync() {}

    /**
     * @param holdsState   false for a joiner whose parameters are only its seed's
     * @param boundaryDone whether this rank has already done the evaluation and checkpoint of its next step
     */
    static Outcome run(Trainer trainer, GradientExchange exchange, boolean holdsState, boolean boundaryDone) {
        long started = System.nanoTime();
        int world = exchange.worldSize();
        float[][] slots = agree(trainer, exchange, holdsState, boundaryDone, AGREE);
        int source = -1;
        for (int r = 0; r < world; r++) {
            if (slots[r][0] == 1 && (source < 0 || step(slots[r]) > step(slots[source]))) {
                source = r;
            }
        }
        if (source < 0) {
            throw new IllegalStateException("no member of the generation holds the training state: none found a "
                    + "checkpoint to resume, or every member joined after the last one that held it was lost; "
                    + "restart the job with --resume where its last checkpoint is");
        }
        List<String> counts = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            if (count(slots[r]) != count(slots[source])) {
                counts.add("rank " + r + ": " + count(slots[r]));
            }
        }
        if (!counts.isEmpty()) {
            throw new ConfigException("the ranks build models of different sizes (source rank " + source + ": "
                    + count(slots[source]) + " parameters; " + String.join(", ", counts) + "); every worker of a "
                    + "job must train the same model on the same text");
        }
        int receivers = 0;
        boolean mine = false;
        for (int r = 0; r < world; r++) {
            boolean differs = step(slots[r]) != step(slots[source]) || hash(slots[r]) != hash(slots[source]);
            receivers += differs ? 1 : 0;
            mine |= differs && r == exchange.rank();
        }
        if (receivers > 0) {
            transfer(trainer, exchange, exchange.rank() == source, mine);
            float[][] check = agree(trainer, exchange, true, false, VERIFY);
            for (int r = 0; r < world; r++) {
                if (hash(check[r]) != hash(slots[source]) || step(check[r]) != step(slots[source])) {
                    throw new IllegalStateException("after the transfer from rank " + source + ", rank " + r
                            + " holds another state (step " + step(check[r]) + ", hash "
                            + Long.toHexString(hash(check[r])) + " instead of " + Long.toHexString(hash(slots[source]))
                            + ")");
                }
            }
        }
        boolean leaderDone = slots[0][SLOT - 1] == 1 && step(slots[0]) == step(slots[source]);
        return new Outcome(step(slots[source]), source, receivers, leaderDone, (System.nanoTime() - started) / 1e6);
    }

    private static float[][] agree(Trainer trainer, GradientExchange exchange, boolean holdsState,
                                   boolean boundaryDone, long tag) {
        int world = exchange.worldSize();
        float[] vector = new float[SLOT * world];
        int at = SLOT * exchange.rank();
        long hash = trainer.stateHash();
        vector[at] = holdsState ? 1 : 0;
        split(trainer.nextStep(), vector, at + 1);
        vector[at + 3] = hash >>> 48;
        vector[at + 4] = (hash >>> 32) & 0xFFFF;
        vector[at + 5] = (hash >>> 16) & 0xFFFF;
        vector[at + 6] = hash & 0xFFFF;
        split(trainer.parameterCount(), vector, at + 7);
        vector[at + 9] = boundaryDone ? 1 : 0;
        exchange.allReduceExact(vector, tag);
        float[][] slots = new float[world][];
        for (int r = 0; r < world; r++) {
            slots[r] = Arrays.copyOfRange(vector, SLOT * r, SLOT * (r + 1));
        }
        return slots;
    }

    /** The source's whole state reaches every rank; those that differed take it. */
    private static void transfer(Trainer trainer, GradientExchange exchange, boolean source, boolean receive) {
        int n = trainer.parameterCount();
        float[] buffer = new float[3 * n + 8];
        if (source) {
            Trainer.State s = trainer.state();
            System.arraycopy(s.params(), 0, buffer, 0, n);
            System.arraycopy(s.firstMoment(), 0, buffer, n, n);
            System.arraycopy(s.secondMoment(), 0, buffer, 2 * n, n);
            split(s.step(), buffer, 3 * n);
            split(s.optimizerSteps(), buffer, 3 * n + 2);
            buffer[3 * n + 4] = (float) s.lossScale();
            split(s.cleanSteps(), buffer, 3 * n + 5);
        } else {
            Arrays.fill(buffer, -0.0f);
        }
        exchange.allReduceExact(buffer, TRANSFER);
        if (receive) {
            trainer.restore(new Trainer.State(join(buffer, 3 * n), Arrays.copyOfRange(buffer, 0, n),
                    Arrays.copyOfRange(buffer, n, 2 * n), Arrays.copyOfRange(buffer, 2 * n, 3 * n),
                    join(buffer, 3 * n + 2), buffer[3 * n + 4], (int) join(buffer, 3 * n + 5)));
        }
    }

    /** A non-negative value below 2^48 as two floats that hold it exactly. */
    private static void split(long value, float[] into, int at) {
        if (value < 0 || value >= (long) PIECE * PIECE) {
            throw new IllegalArgumentException("cannot carry " + value + " exactly");
        }
        into[at] = value / PIECE;
        into[at + 1] = value % PIECE;
    }

    private static long join(float[] from, int at) {
        return (long) from[at] * PIECE + (long) from[at + 1];
    }

    private static long step(float[] slot) {
        return join(slot, 1);
    }

    private static long hash(float[] slot) {
        return (long) slot[3] << 48 | (long) slot[4] << 32 | (long) slot[5] << 16 | (long) slot[6];
    }

    private static long count(float[] slot) {
        return join(slot, 7);
    }
}

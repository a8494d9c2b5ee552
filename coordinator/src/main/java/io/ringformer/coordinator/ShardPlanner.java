package io.ringformer.coordinator;

import io.ringformer.protocol.Shard;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits the global batch among the members of a generation: contiguous rows in rank order, the first
 * {@code globalBatch mod worldSize} ranks one row more than the others. The same rule as the worker's {@code
 * TextDataset.Rows.of}, so the plan in the generation and the rows a worker takes always agree.
 */
public final class ShardPlanner {

    private ShardPlanner() {
    }

    /** The shards of ranks 0 … worldSize-1; they cover [0, globalBatch) exactly. */
    public static List<Shard> plan(int globalBatch, int worldSize) {
        if (worldSize < 1) {
            throw new IllegalArgumentException("cannot plan shards for " + worldSize + " workers: need at least one");
        }
        if (globalBatch < worldSize) {
            throw new IllegalArgumentException("global batch " + globalBatch + " cannot be split over " + worldSize
                    + " workers: every rank needs at least one row (raise train.batch_size or lower max_workers)");
        }
        int base = globalBatch / worldSize;
        int extra = globalBatch % worldSize;
        List<Shard> shards = new ArrayList<>(worldSize);
        int first = 0;
        for (int rank = 0; rank < worldSize; rank++) {
            int count = base + (rank < extra ? 1 : 0);
            shards.add(new Shard(first, count));
            first += count;
        }
        return List.copyOf(shards);
    }

    /** The shards of the ordered {@code members}. */
    public static List<Shard> plan(int globalBatch, List<String> members) {
        return plan(globalBatch, members.size());
    }
}

package io.ringformer.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.ringformer.protocol.Shard;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class ShardPlannerTest {

    @Test
    @Timeout(10)
    void evenSplit() {
        assertEquals(List.of(new Shard(0, 4), new Shard(4, 4), new Shard(8, 4)), ShardPlanner.plan(12, 3));
    }

    @Test
    @Timeout(10)
    void unevenSplitGivesTheFirstRanksOneMoreRow() {
        assertEquals(List.of(new Shard(0, 4), new Shard(4, 3), new Shard(7, 3)), ShardPlanner.plan(10, 3));
        assertEquals(List.of(new Shard(0, 3), new Shard(3, 3), new Shard(6, 3), new Shard(9, 2)),
                ShardPlanner.plan(11, 4));
        assertEquals(List.of(new Shard(0, 7)), ShardPlanner.plan(7, 1));
        assertEquals(List.of(new Shard(0, 1), new Shard(1, 1), new Shard(2, 1)), ShardPlanner.plan(3, 3));
    }

    @Test
    @Timeout(10)
    void everyPlanCoversTheBatchExactlyInContiguousRows() {
        for (int batch = 1; batch <= 40; batch++) {
            for (int world = 1; world <= batch; world++) {
                List<Shard> plan = ShardPlanner.plan(batch, world);
                assertEquals(world, plan.size());
                int next = 0;
                for (Shard shard : plan) {
                    assertEquals(next, shard.first());
                    int expected = batch / world + (plan.indexOf(shard) < batch % world ? 1 : 0);
                    assertEquals(expected, shard.count());
                    next = shard.end();
                }
                assertEquals(batch, next);
            }
        }
    }

    @Test
    @Timeout(10)
    void theOrderedMembersGiveTheWorldSize() {
        assertEquals(ShardPlanner.plan(12, 2), ShardPlanner.plan(12, List.of("w0", "w2")));
    }

    @Test
    @Timeout(10)
    void moreWorkersThanRowsIsRefusedWithAClearMessage() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ShardPlanner.plan(3, 4));
        assertEquals("global batch 3 cannot be split over 4 workers: every rank needs at least one row (raise "
                + "train.batch_size or lower max_workers)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ShardPlanner.plan(12, 0));
    }
}

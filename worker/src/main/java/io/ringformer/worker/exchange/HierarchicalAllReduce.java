package io.ringformer.worker.exchange;

import java.util.Map;

/**
 * The all-reduce of workers spread over several hosts, several to a host: sum in shared memory within each host,
 * all-reduce the hosts' sums over the Aeron ring among one leader per host, then broadcast the total back within
 * each host in shared memory. Only the leaders touch the network, each with one host's sum, so the bytes on the
 * wire are those of a ring of H hosts instead of P workers.
 *
 * <p>One call, on every member of a host group:
 * <ol>
 *   <li>{@link SharedMemoryAllReduce#reduceToRankZero}: the host's members sum their buffers; the leader (the
 *       group's rank 0, its lowest global rank) reads the host's sum.</li>
 *   <li>The leader all-reduces the host's sum over the {@link RingAllReduce} of leaders; the others wait in the
 *       next phase.</li>
 *   <li>{@link SharedMemoryAllReduce#broadcastFromRankZero}: every member reads the leader's total, so all hold the
 *       same bits.</li>
 * </ol>
 * A host with one member has no shared-memory half; a world of one host has no ring (then a plain
 * {@link SharedMemoryAllReduce} serves better, and {@code ElasticExchange} picks that). Liveness is both halves':
 * every wait gives up with a {@link GenerationChangedException} when the membership changes — a dead member on
 * another host breaks the leaders' ring, and the members waiting for their leader's broadcast leave on the same
 * generation number — and {@code timeoutMs} bounds each phase as the last resort.
 *
 * <p>Not thread-safe: one thread calls {@link #allReduce}.
 */
public final class HierarchicalAllReduce implements GradientExchange {

    private final int rank;
    private final int worldSize;
    private final SharedMemoryAllReduce host;          // null when this member is alone on its host
    private final GradientExchange leaders;            // null unless this member leads its host

    /**
     * @param rank      this member's rank in the whole world
     * @param worldSize the whole world's size
     * @param host      this host's shared-memory all-reduce, or null when the member is alone on its host
     * @param leaders   the ring of host leaders when this member leads its host, else null
     */
    public HierarchicalAllReduce(int rank, int worldSize, SharedMemoryAllReduce host, GradientExchange leaders) {
        if (host == null && leaders == null) {
            throw new IllegalArgumentException("a member alone on its host must lead it");
        }
        if (host != null && (host.rank() == 0) != (leaders != null)) {
            throw new IllegalArgumentException("the leader of a host is its rank 0 in shared memory, and only it");
        }
        this.rank = rank;
        this.worldSize = worldSize;
        this.host = host;
        this.leaders = leaders;
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int worldSize() {
        return worldSize;
    }

    @Override
    public void allReduce(float[] buffer, long step) {
        sum(buffer, step, false);
    }

    @Override
    public void allReduceExact(float[] buffer, long step) {
        sum(buffer, step, true);     // shared memory always sums fp32 values; the ring is told to send them so
    }

    private void sum(float[] buffer, long step, boolean exact) {
        if (host != null) {
            host.reduceToRankZero(buffer, step);
        }
        if (leaders != null) {
            if (exact) {
                leaders.allReduceExact(buffer, step);
            } else {
                leaders.allReduce(buffer, step);
            }
        }
        if (host != null) {
            host.broadcastFromRankZero(buffer, step);
        }
    }

    @Override
    public Map<String, Long> droppedFramesByReason() {
        return leaders == null ? Map.of() : leaders.droppedFramesByReason();
    }

    @Override
    public void close() {
        try {
            if (leaders != null) {
                leaders.close();
            }
        } finally {
            if (host != null) {
                host.close();
            }
        }
    }
}

package io.ringformer.protocol;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;

/**
 * One membership of the job: who trains, in which rank order, on which rows, from which step. The coordinator
 * writes generation 1 at the rendezvous and g+1 at every change of membership; the number never goes back, even
 * across coordinator failover. A worker learns everything it needs from its generation: its rank ({@link
 * #rankOf}), the world size, its peers' Aeron channels ({@link #endpoint}, ring neighbours are rank ± 1 modulo
 * the world size), its rows of every global batch ({@link #shard}), and the job token that frames must carry.
 *
 * <p>JSON (snake_case, lists in rank order):
 * <pre>
 * {"number":2, "members":["w0","w2"],
 *  "endpoints":["aeron:udp?endpoint=10.0.0.1:40123","aeron:udp?endpoint=10.0.0.3:40777"],
 *  "world_size":2, "start_step":120, "plan":[{"first":0,"count":6},{"first":6,"count":6}],
 *  "job_token":"…", "paused":false}
 * </pre>
 *
 * @param number    1, 2, … — strictly increasing
 * @param members   worker ids; the index is the rank
 * @param endpoints each member's Aeron channel, same order
 * @param worldSize the number of members
 * @param startStep the step the generation starts at: the coordinator's best knowledge of the next step to train
 *                  (at least the previous generation's start, the last step reported in {@link JobStatus} plus one,
 *                  and the latest checkpoint's step)
 * @param plan      each rank's contiguous rows of the global batch; together they cover it exactly
 * @param jobToken  the job's token from its {@link JobSpec}; a worker refuses a generation without it
 * @param paused    fewer members than the job's minimum: they form their ring, make their states equal and
 *                  checkpoint, then wait for the next generation instead of training
 */
public record Generation(long number, List<String> members, List<String> endpoints, int worldSize, long startStep,
                         List<Shard> plan, String jobToken, boolean paused) {

    public Generation {
        Objects.requireNonNull(members, "members");
        Objects.requireNonNull(endpoints, "endpoints");
        Objects.requireNonNull(plan, "plan");
        Objects.requireNonNull(jobToken, "job_token");
        members = List.copyOf(members);
        endpoints = List.copyOf(endpoints);
        plan = List.copyOf(plan);
        if (number < 1) {
            throw new IllegalArgumentException("generation number must be ≥ 1, got " + number);
        }
        if (members.isEmpty()) {
            throw new IllegalArgumentException("generation " + number + " has no members");
        }
        if (new HashSet<>(members).size() != members.size()) {
            throw new IllegalArgumentException("generation " + number + " lists a member twice: " + members);
        }
        if (worldSize != members.size() || endpoints.size() != worldSize || plan.size() != worldSize) {
            throw new IllegalArgumentException("generation " + number + ": world_size " + worldSize + " but "
                    + members.size() + " members, " + endpoints.size() + " endpoints and " + plan.size()
                    + " shards");
        }
        int next = 0;
        for (int rank = 0; rank < worldSize; rank++) {
            if (plan.get(rank).first() != next) {
                throw new IllegalArgumentException("generation " + number + ": shard of rank " + rank
                        + " starts at row " + plan.get(rank).first() + ", expected " + next
                        + " (shards must be contiguous from row 0)");
            }
            next = plan.get(rank).end();
        }
        if (startStep < 0) {
            throw new IllegalArgumentException("generation " + number + ": start_step must be ≥ 0, got "
                    + startStep);
        }
    }

    /** This member's rank, or -1 if {@code workerId} is not a member (it waits for a later generation). */
    public int rankOf(String workerId) {
        return members.indexOf(workerId);
    }

    /** The Aeron channel of the member at {@code rank}. */
    public String endpoint(int rank) {
        return endpoints.get(rank);
    }

    /** The rows of the global batch that {@code rank} trains on. */
    public Shard shard(int rank) {
        return plan.get(rank);
    }

    /** The global batch the plan covers: the sum of all shards. */
    public int globalBatch() {
        return plan.get(plan.size() - 1).end();
    }

    public byte[] encode() {
        return Json.encode(this);
    }

    public static Generation decode(byte[] bytes) {
        return Json.decode(bytes, Generation.class, "generation");
    }

    /** Everything but the token, which is never logged. */
    @Override
    public String toString() {
        return "Generation[number=" + number + ", members=" + members + ", endpoints=" + endpoints + ", world_size="
                + worldSize + ", start_step=" + startStep + ", plan=" + plan + ", paused=" + paused
                + ", job_token=(hidden)]";
    }
}

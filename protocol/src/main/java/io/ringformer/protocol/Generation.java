package io.ringformer.protocol;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
 *  "shared_memory":["5f0c…:/dev/shm/ringformer-j-host0/exchange",""],
 *  "world_size":2, "start_step":120, "plan":[{"first":0,"count":6},{"first":6,"count":6}],
 *  "job_token":"…", "paused":false}
 * </pre>
 *
 * @param number    1, 2, … — strictly increasing
 * @param members   worker ids; the index is the rank
 * @param endpoints each member's Aeron channel, same order
 * @param sharedMemory each member's {@link WorkerInfo#sharedMemory}, same order: members with the same non-empty
 *                  value sum in shared memory ({@link #sharedMemoryGroups})
 * @param worldSize the number of members
 * @param startStep the step the generation starts at: the coordinator's best knowledge of the next step to train
 *                  (at least the previous generation's start, the last step reported in {@link JobStatus} plus one,
 *                  and the latest checkpoint's step)
 * @param plan      each rank's contiguous rows of the global batch; together they cover it exactly
 * @param jobToken  the job's token from its {@link JobSpec}; a worker refuses a generation without it
 * @param paused    fewer members than the job's minimum: they form their ring, make their states equal and
 *                  checkpoint, then wait for the next generation instead of training
 */
public record Generation(long number, List<String> members, List<String> endpoints, List<String> sharedMemory,
                         int worldSize, long startStep, List<Shard> plan, String jobToken, boolean paused) {

    public Generation {
        Objects.requireNonNull(members, "members");
        Objects.requireNonNull(endpoints, "endpoints");
        Objects.requireNonNull(sharedMemory, "shared_memory");
        Objects.requireNonNull(plan, "plan");
        Objects.requireNonNull(jobToken, "job_token");
        members = List.copyOf(members);
        endpoints = List.copyOf(endpoints);
        sharedMemory = List.copyOf(sharedMemory);
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
        if (worldSize != members.size() || endpoints.size() != worldSize || sharedMemory.size() != worldSize
                || plan.size() != worldSize) {
            throw new IllegalArgumentException("generation " + number + ": world_size " + worldSize + " but "
                    + members.size() + " members, " + endpoints.size() + " endpoints, " + sharedMemory.size()
                    + " shared_memory entries and " + plan.size() + " shards");
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

    /**
     * The members grouped by the shared memory they can sum in, each group in rank order and the groups in the
     * order of their lowest rank; a member without shared memory is a group of its own. One group per machine
     * (per media driver) when every worker shares its host's driver.
     */
    public List<List<Integer>> sharedMemoryGroups() {
        Map<String, List<Integer>> groups = new LinkedHashMap<>();
        for (int rank = 0; rank < worldSize; rank++) {
            String key = sharedMemory.get(rank).isEmpty() ? "\0rank " + rank : sharedMemory.get(rank);
            groups.computeIfAbsent(key, k -> new ArrayList<>()).add(rank);
        }
        return groups.values().stream().map(List::copyOf).toList();
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
        return "Generation[number=" + number + ", members=" + members + ", endpoints=" + endpoints
                + ", shared_memory=" + sharedMemory + ", world_size=" + worldSize + ", start_step=" + startStep
                + ", plan=" + plan + ", paused=" + paused
                + ", job_token=(hidden)]";
    }
}

package io.ringformer.coordinator;

import io.ringformer.protocol.Generation;
import io.ringformer.protocol.ZkLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.data.Stat;

/**
 * The job's {@code generation} node, written only by compare-and-set: a new generation replaces exactly the
 * version its writer read, so two writers can never both win, and a writer that read a stale version loses ({@link
 * Outcome#STALE}) and must read again.
 *
 * <p>Each write is also fenced: it goes in one ZooKeeper transaction with a check that the writer's own leader-latch
 * node still exists. That node is ephemeral and, while it exists, no other coordinator can hold the latch; so a
 * coordinator that lost its session (and its leadership) while it was deciding cannot write ({@link
 * Outcome#NOT_LEADER}). The writer reads its latch node's path before asking the latch whether it leads: if the
 * latch re-entered the election meanwhile under a new node, it no longer reports leadership, and if the old node
 * was deleted after the question, the check fails.
 */
public final class GenerationNode {

    /** A generation and the ZooKeeper version of the node it was read from. */
    public record Current(Generation generation, int version) {}

    public enum Outcome {
        /** The generation is in ZooKeeper. */
        WRITTEN,
        /** Someone wrote the node since it was read (BadVersion), or created it first (NodeExists). */
        STALE,
        /** The fence node is gone: the writer is no longer the leader. */
        NOT_LEADER
    }

    private final CuratorFramework client;
    private final ZkLayout layout;

    public GenerationNode(CuratorFramework client, ZkLayout layout) {
        this.client = client;
        this.layout = layout;
    }

    /** The current generation and its version, or empty before the rendezvous wrote generation 1. */
    public Optional<Current> read() throws Exception {
        Stat stat = new Stat();
        try {
            byte[] bytes = client.getData().storingStatIn(stat).forPath(layout.generation());
            return Optional.of(new Current(Generation.decode(bytes), stat.getVersion()));
        } catch (KeeperException.NoNodeException e) {
            return Optional.empty();
        }
    }

    /**
     * Creates the node with the first generation, if no one has. The job's root node must exist.
     *
     * @param fencePath the writer's leader-latch node, or null for an unfenced write
     */
    public Outcome create(Generation first, String fencePath) throws Exception {
        return commit(fencePath, client.transactionOp().create().forPath(layout.generation(), first.encode()));
    }

    /**
     * Replaces {@code expected} by {@code next} if the node still holds the version {@code expected} was read at.
     * {@code next} must have a higher number.
     *
     * @param fencePath the writer's leader-latch node, or null for an unfenced write
     */
    public Outcome replace(Current expected, Generation next, String fencePath) throws Exception {
        if (next.number() <= expected.generation().number()) {
            throw new IllegalArgumentException("generation numbers only grow: cannot replace "
                    + expected.generation().number() + " by " + next.number());
        }
        return commit(fencePath, client.transactionOp().setData().withVersion(expected.version())
                .forPath(layout.generation(), next.encode()));
    }

    private Outcome commit(String fencePath, CuratorOp write) throws Exception {
        List<CuratorOp> ops = new ArrayList<>(2);
        if (fencePath != null) {
            ops.add(client.transactionOp().check().forPath(fencePath));
        }
        ops.add(write);
        try {
            client.transaction().forOperations(ops);
            return Outcome.WRITTEN;
        } catch (KeeperException.BadVersionException | KeeperException.NodeExistsException e) {
            return Outcome.STALE;
        } catch (KeeperException.NoNodeException e) {
            if (fencePath != null && failedFirst(e)) {
                return Outcome.NOT_LEADER;
            }
            return Outcome.STALE; // the generation node vanished since it was read
        }
    }

    /** Whether the first operation of a failed transaction — the fence check — is the one that failed. */
    private static boolean failedFirst(KeeperException e) {
        List<OpResult> results = e.getResults();
        return results != null && !results.isEmpty() && results.get(0) instanceof OpResult.ErrorResult error
                && error.getErr() == KeeperException.Code.NONODE.intValue();
    }
}

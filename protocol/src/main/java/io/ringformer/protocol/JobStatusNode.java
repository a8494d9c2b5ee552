package io.ringformer.protocol;

import java.util.Optional;
import java.util.function.UnaryOperator;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * The job's {@code status} node: read it, or change it by read-modify-compare-and-set, retried until no one
 * else wrote in between. Both the coordinator (state) and rank 0 (progress) write it, so every write is a CAS.
 */
public final class JobStatusNode {

    private final CuratorFramework client;
    private final ZkLayout layout;

    public JobStatusNode(CuratorFramework client, ZkLayout layout) {
        this.client = client;
        this.layout = layout;
    }

    /** The status, or empty before the coordinator wrote generation 1. */
    public Optional<JobStatus> read() throws Exception {
        try {
            return Optional.of(JobStatus.decode(client.getData().forPath(layout.status())));
        } catch (KeeperException.NoNodeException e) {
            return Optional.empty();
        }
    }

    /**
     * Applies {@code change} to the current status ({@link JobStatus#started()} if there is none yet) and writes
     * the result if no one changed the node meanwhile; otherwise reads again and reapplies. Returns what it wrote.
     */
    public JobStatus update(UnaryOperator<JobStatus> change) throws Exception {
        while (true) {
            Stat stat = new Stat();
            JobStatus current;
            try {
                current = JobStatus.decode(client.getData().storingStatIn(stat).forPath(layout.status()));
            } catch (KeeperException.NoNodeException e) {
                JobStatus next = change.apply(JobStatus.started());
                try {
                    client.create().creatingParentsIfNeeded().forPath(layout.status(), next.encode());
                    return next;
                } catch (KeeperException.NodeExistsException raced) {
                    continue;
                }
            }
            JobStatus next = change.apply(current);
            try {
                client.setData().withVersion(stat.getVersion()).forPath(layout.status(), next.encode());
                return next;
            } catch (KeeperException.BadVersionException | KeeperException.NoNodeException raced) {
                // someone wrote in between: read again
            }
        }
    }
}

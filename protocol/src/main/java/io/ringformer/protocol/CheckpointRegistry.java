package io.ringformer.protocol;

import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * The job's checkpoints in ZooKeeper: {@code checkpoints/latest} holds the newest {@link CheckpointManifest}, and
 * each one published also stays as {@code checkpoints/step-NNNNNNNN}. Rank 0 publishes after it has written a
 * checkpoint to disk (so a manifest never names a checkpoint that is not there); the coordinator reads the step
 * to place the start of the next generation. {@code latest} only moves forward: it is replaced by
 * compare-and-set, and never by an older step.
 */
public final class CheckpointRegistry {

    private final CuratorFramework client;
    private final ZkLayout layout;

    public CheckpointRegistry(CuratorFramework client, ZkLayout layout) {
        this.client = client;
        this.layout = layout;
    }

    public void publish(CheckpointManifest manifest) throws Exception {
        byte[] bytes = manifest.encode();
        try {
            client.create().orSetData().creatingParentsIfNeeded().forPath(layout.checkpoint(manifest.step()), bytes);
        } catch (KeeperException.NodeExistsException e) {
            client.setData().forPath(layout.checkpoint(manifest.step()), bytes);
        }
        while (true) {
            Stat stat = client.checkExists().forPath(layout.latestCheckpoint());
            try {
                if (stat == null) {
                    client.create().creatingParentsIfNeeded().forPath(layout.latestCheckpoint(), bytes);
                    return;
                }
                CheckpointManifest current = CheckpointManifest.decode(
                        client.getData().forPath(layout.latestCheckpoint()));
                if (current.step() > manifest.step()) {
                    return;
                }
                client.setData().withVersion(stat.getVersion()).forPath(layout.latestCheckpoint(), bytes);
                return;
            } catch (KeeperException.NodeExistsException | KeeperException.BadVersionException e) {
                // another writer got there first: read again and decide again
            }
        }
    }

    public Optional<CheckpointManifest> latest() throws Exception {
        if (client.checkExists().forPath(layout.latestCheckpoint()) == null) {
            return Optional.empty();
        }
        return Optional.of(CheckpointManifest.decode(client.getData().forPath(layout.latestCheckpoint())));
    }
}

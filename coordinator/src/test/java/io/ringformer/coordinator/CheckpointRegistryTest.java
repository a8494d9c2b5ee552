package io.ringformer.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.protocol.CheckpointManifest;
import io.ringformer.protocol.CheckpointRegistry;
import io.ringformer.protocol.ZkConnection;
import io.ringformer.protocol.ZkLayout;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class CheckpointRegistryTest {

    static CheckpointManifest manifest(long step) {
        return new CheckpointManifest(step, "/runs/x/checkpoints/step-" + step, 2, "ab", Map.of("params.bin", "cd"));
    }

    @Test
    @Timeout(60)
    void latestOnlyMovesForwardAndHistoryIsKept() throws Exception {
        try (EmbeddedZooKeeper server = new EmbeddedZooKeeper()) {
            server.start();
            try (CuratorFramework client = ZkConnection.of(server.connectString(), 2000).newClient()) {
                client.start();
                ZkLayout layout = new ZkLayout("registry");
                CheckpointRegistry registry = new CheckpointRegistry(client, layout);
                assertTrue(registry.latest().isEmpty());
                registry.publish(manifest(20));
                registry.publish(manifest(10));                 // a late, older publication
                assertEquals(20, registry.latest().orElseThrow().step());
                registry.publish(manifest(30));
                assertEquals(manifest(30), registry.latest().orElseThrow());
                for (long step : new long[] {10, 20, 30}) {
                    assertNotNull(client.checkExists().forPath(layout.checkpoint(step)), "history of " + step);
                }
            }
        }
    }
}

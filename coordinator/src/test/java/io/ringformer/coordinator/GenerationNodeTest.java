package io.ringformer.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.ringformer.protocol.Generation;
import io.ringformer.protocol.ZkConnection;
import io.ringformer.protocol.ZkLayout;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Compare-and-set on the generation node, against a real ZooKeeper server. */
class GenerationNodeTest {

    private final ZkLayout layout = new ZkLayout("cas");
    private EmbeddedZooKeeper server;
    private CuratorFramework client;

    @BeforeEach
    void start() throws Exception {
        server = new EmbeddedZooKeeper();
        server.start();
        client = ZkConnection.of(server.connectString(), 2000).newClient();
        client.start();
        client.blockUntilConnected();
        client.create().creatingParentsIfNeeded().forPath(layout.root(), new byte[0]);
    }

    @AfterEach
    void stop() throws Exception {
        client.close();
        server.close();
    }

    private static Generation generation(long number, String... members) {
        List<String> ids = List.of(members);
        return new Generation(number, ids, ids.stream().map(TestWorker::endpointOf).toList(),
                ids.stream().map(id -> "").toList(), ids.size(), 0,
                ShardPlanner.plan(12, ids.size()), "tok", false);
    }

    @Test
    @Timeout(30)
    void onlyOneOfTwoWritersThatReadTheSameVersionWins() throws Exception {
        GenerationNode leader = new GenerationNode(client, layout);
        GenerationNode rival = new GenerationNode(client, layout);
        assertEquals(GenerationNode.Outcome.WRITTEN, leader.create(generation(1, "w0", "w1", "w2"), null));
        assertEquals(GenerationNode.Outcome.STALE, rival.create(generation(1, "w0"), null),
                "generation 1 exists already");

        GenerationNode.Current seenByLeader = leader.read().orElseThrow();
        GenerationNode.Current seenByRival = rival.read().orElseThrow();
        assertEquals(seenByLeader, seenByRival);

        assertEquals(GenerationNode.Outcome.WRITTEN, leader.replace(seenByLeader, generation(2, "w0", "w2"), null));
        assertEquals(GenerationNode.Outcome.STALE, rival.replace(seenByRival, generation(2, "w1"), null),
                "the rival's version is stale");

        GenerationNode.Current now = rival.read().orElseThrow();
        assertEquals(generation(2, "w0", "w2"), now.generation());
        assertEquals(seenByLeader.version() + 1, now.version());
        // What STALE stands for: ZooKeeper refuses a write at a version that is no longer the node's.
        assertThrows(KeeperException.BadVersionException.class, () -> client.setData()
                .withVersion(seenByRival.version()).forPath(layout.generation(), generation(2, "w1").encode()));
    }

    @Test
    @Timeout(30)
    void aWriterWhoseLatchNodeIsGoneCannotWrite() throws Exception {
        GenerationNode node = new GenerationNode(client, layout);
        String fence = client.create().creatingParentsIfNeeded().withMode(CreateMode.EPHEMERAL)
                .forPath(layout.coordinator() + "/latch-0000000000", new byte[0]);
        assertEquals(GenerationNode.Outcome.WRITTEN, node.create(generation(1, "w0", "w1"), fence));

        client.delete().forPath(fence); // leadership lost
        GenerationNode.Current current = node.read().orElseThrow();
        assertEquals(GenerationNode.Outcome.NOT_LEADER, node.replace(current, generation(2, "w0"), fence));
        assertEquals(current, node.read().orElseThrow(), "nothing was written");
    }

    @Test
    @Timeout(30)
    void generationNumbersOnlyGrow() throws Exception {
        GenerationNode node = new GenerationNode(client, layout);
        node.create(generation(3, "w0"), null);
        GenerationNode.Current current = node.read().orElseThrow();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> node.replace(current, generation(3, "w1"), null));
        assertEquals("generation numbers only grow: cannot replace 3 by 3", e.getMessage());
    }
}

package io.ringformer.coordinator;

import java.util.concurrent.CountDownLatch;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;

/** Test tools for ZooKeeper sessions. */
final class Sessions {

    private Sessions() {
    }

    /**
     * Ends {@code client}'s session on the server, as if the server had expired it: a second connection joins the
     * same session and closes it. The server deletes the session's ephemeral nodes at once; the client, when it
     * reconnects, learns its session expired (Curator: LOST), and Curator opens a new one (RECONNECTED).
     */
    static void expire(CuratorFramework client, String connectString) throws Exception {
        ZooKeeper zooKeeper = client.getZookeeperClient().getZooKeeper();
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper twin = new ZooKeeper(connectString, zooKeeper.getSessionTimeout(), event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        }, zooKeeper.getSessionId(), zooKeeper.getSessionPasswd());
        try {
            connected.await();
        } finally {
            twin.close();
        }
    }

    /** The id of {@code client}'s current session. */
    static long sessionId(CuratorFramework client) throws Exception {
        return client.getZookeeperClient().getZooKeeper().getSessionId();
    }
}

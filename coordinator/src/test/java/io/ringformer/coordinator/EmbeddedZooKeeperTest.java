package io.ringformer.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.protocol.ZkConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class EmbeddedZooKeeperTest {

    @Test
    @Timeout(60)
    void servesOnLoopbackWithShortSessionsAndCleansUp() throws Exception {
        Path dataDir;
        try (EmbeddedZooKeeper first = new EmbeddedZooKeeper(); EmbeddedZooKeeper second = new EmbeddedZooKeeper()) {
            first.start();
            second.start();
            assertNotEquals(first.port(), second.port());
            assertTrue(first.connectString().startsWith("127.0.0.1:"));
            String srvr = EmbeddedZooKeeper.fourLetterWord(first.port(), "srvr");
            assertTrue(srvr.contains("Mode: standalone"), srvr);
            assertFalse(EmbeddedZooKeeper.fourLetterWord(first.port(), "ruok").contains("imok"),
                    "only srvr is whitelisted");

            try (CuratorFramework client = ZkConnection.of(first.connectString(), 2000).newClient()) {
                client.start();
                client.blockUntilConnected();
                client.create().forPath("/hello", new byte[] {42});
                assertEquals(42, client.getData().forPath("/hello")[0]);
                // tickTime 500 ms lets the server grant a 2 s session as asked (3000 would force 6 s).
                assertEquals(2000, client.getZookeeperClient().getZooKeeper().getSessionTimeout());
            }
            dataDir = first.dataDirectory();
            assertTrue(Files.isDirectory(dataDir));
        }
        assertFalse(Files.exists(dataDir), "the data directory is deleted on close");
    }

    @Test
    @Timeout(10)
    void tickTimeAboveOneSecondIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new EmbeddedZooKeeper(3000));
    }
}

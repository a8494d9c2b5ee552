package io.ringformer.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.protocol.InputException;
import io.ringformer.protocol.JobSpec;
import io.ringformer.protocol.ZkAuth;
import io.ringformer.protocol.ZkConnection;
import io.ringformer.protocol.ZkLayout;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Digest ACLs on a real (embedded) ZooKeeper: a job submitted by a client with credentials is readable and
 * writable by clients with the same credentials only; the world and other credentials get NoAuth.
 */
class JobAclTest {

    static final ZkAuth ALICE = new ZkAuth("alice", "s3cret");
    static final JobSpec SPEC = JobSpec.of("token-1", 8, 1, 2, 0, "train:\n  batch_size: 8\n");

    static CuratorFramework client(EmbeddedZooKeeper server, ZkAuth auth) {
        CuratorFramework client = ZkConnection.of(server.connectString(), 2000).withAuth(auth).newClient();
        client.start();
        return client;
    }

    @Test
    @Timeout(60)
    void onlyTheJobsCredentialsReadItsSpec() throws Exception {
        ZkLayout layout = new ZkLayout("secured");
        try (EmbeddedZooKeeper server = new EmbeddedZooKeeper()) {
            server.start();
            try (CuratorFramework alice = client(server, ALICE);
                 CuratorFramework anonymous = client(server, null);
                 CuratorFramework mallory = client(server, new ZkAuth("alice", "guess"));
                 CuratorFramework aliceAgain = client(server, ALICE)) {
                Coordinator.submit(alice, layout, SPEC);
                alice.create().forPath(layout.workers());

                assertThrows(KeeperException.NoAuthException.class, () -> anonymous.getData().forPath(layout.spec()));
                assertThrows(KeeperException.NoAuthException.class, () -> mallory.getData().forPath(layout.spec()));
                assertThrows(KeeperException.NoAuthException.class,
                        () -> anonymous.create().forPath(layout.worker("intruder"), new byte[] {1}));
                assertThrows(KeeperException.NoAuthException.class,
                        () -> anonymous.setData().forPath(layout.spec(), new byte[] {1}));
                assertEquals(SPEC, JobSpec.decode(aliceAgain.getData().forPath(layout.spec())));

                List<ACL> acl = alice.getACL().forPath(layout.spec());
                assertEquals(List.of(new ACL(ZooDefs.Perms.ALL, ALICE.id())), acl);
                assertTrue(ALICE.id().getId().startsWith("alice:"));
                assertFalse(ALICE.id().getId().contains("s3cret"));

                // the coordinator's recipes (latch, paths) work under the ACL, and what they create is the job's
                try (Coordinator coordinator = new Coordinator(alice, layout, "c-1")) {
                    coordinator.start();
                    long deadline = System.nanoTime() + 10_000_000_000L;
                    while (!coordinator.isLeader() && System.nanoTime() < deadline) {
                        Thread.sleep(20);
                    }
                    assertTrue(coordinator.isLeader());
                    assertEquals(List.of(new ACL(ZooDefs.Perms.ALL, ALICE.id())),
                            alice.getACL().forPath(layout.coordinator()));
                    assertThrows(KeeperException.NoAuthException.class,
                            () -> anonymous.getChildren().forPath(layout.coordinator()));
                }

                // the shared parents let other jobs live beside it, but nobody else may change them
                assertTrue(anonymous.getChildren().forPath(ZkLayout.JOBS).contains("secured"));
                Coordinator.submit(anonymous, new ZkLayout("open"), SPEC);
                assertThrows(KeeperException.NoAuthException.class,
                        () -> anonymous.setData().forPath(ZkLayout.JOBS, new byte[] {1}));
            }
        }
    }

    @Test
    @Timeout(60)
    void aDifferentSpecUnderAnExistingNameIsAnInputError() throws Exception {
        ZkLayout layout = new ZkLayout("taken");
        try (EmbeddedZooKeeper server = new EmbeddedZooKeeper()) {
            server.start();
            try (CuratorFramework client = client(server, null)) {
                Coordinator.submit(client, layout, SPEC);
                Coordinator.submit(client, layout, SPEC);          // the same again: nothing happens
                InputException e = assertThrows(InputException.class, () -> Coordinator.submit(client, layout,
                        JobSpec.of("token-2", 8, 1, 2, 0, "train:\n  batch_size: 8\n")));
                assertTrue(e.getMessage().contains("already has a different spec"), e.getMessage());
            }
        }
    }

    @Test
    void thePasswordIsNeverPrinted() {
        assertEquals("ZkAuth[user=alice, password=***]", ALICE.toString());
        assertFalse(ZkConnection.of("127.0.0.1:2181", 2000).withAuth(ALICE).toString().contains("s3cret"));
        InputException e = assertThrows(InputException.class, () -> ZkAuth.parse("alice-no-colon", "--zk-auth"));
        assertEquals("--zk-auth must be USER:PASSWORD, both non-empty", e.getMessage());
    }

    @Test
    void anUnknownHostIsAnInputErrorNamingIt() {
        InputException e = assertThrows(InputException.class,
                () -> ZkConnection.of("nosuchhost.invalid:2181", 2000).newClient());
        assertTrue(e.getMessage().contains("unknown host 'nosuchhost.invalid'"), e.getMessage());
        assertThrows(InputException.class, () -> ZkConnection.of("127.0.0.1:99999", 2000).checkHosts());
    }
}

package io.ringformer.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.protocol.Generation;
import io.ringformer.protocol.JobSpec;
import io.ringformer.protocol.JobStatus;
import io.ringformer.protocol.JobStatusNode;
import io.ringformer.protocol.Shard;
import io.ringformer.protocol.ZkConnection;
import io.ringformer.protocol.ZkLayout;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

/**
 * Coordinators and worker sessions against a real ZooKeeper server (one per class, a job per test). Every wait
 * blocks on an event and is bounded by the test's {@code @Timeout}; no assertion is about time.
 */
class CoordinatorTest {

    private static EmbeddedZooKeeper zooKeeper;

    private final Deque<AutoCloseable> open = new ArrayDeque<>();
    private ZkLayout layout;
    private String token;
    private CuratorFramework admin;

    @BeforeAll
    static void startZooKeeper() throws Exception {
        zooKeeper = new EmbeddedZooKeeper();
        zooKeeper.start();
    }

    @AfterAll
    static void stopZooKeeper() {
        zooKeeper.close();
    }

    @BeforeEach
    void newJob(TestInfo test) throws Exception {
        layout = new ZkLayout(test.getTestMethod().orElseThrow().getName());
        token = "token-of-" + layout.job();
        admin = client();
    }

    @AfterEach
    void closeEverything() throws Exception {
        while (!open.isEmpty()) {
            open.pop().close();
        }
    }

    @Test
    @Timeout(60)
    void rendezvousWritesGenerationOneWithSortedMembersAndAPlanCoveringTheBatch() throws Exception {
        Coordinator coordinator = coordinator("c1");
        coordinator.awaitLeadership();
        submit(10, 3, 3, 200); // after the coordinator started: it waits for the spec
        TestWorker w2 = worker("w2");
        TestWorker w0 = worker("w0");
        TestWorker impostor = open(TestWorker.start(zooKeeper.connectString(), layout, "w9", "another-token"));
        TestWorker w1 = worker("w1");

        for (TestWorker worker : List.of(w0, w1, w2)) {
            Generation first = worker.await(1); // number 1 with three members: nothing was written with fewer
            assertEquals(List.of("w0", "w1", "w2"), first.members());
            assertEquals(3, first.worldSize());
            assertEquals(List.of(TestWorker.endpointOf("w0"), TestWorker.endpointOf("w1"),
                    TestWorker.endpointOf("w2")), first.endpoints());
            assertEquals(List.of(new Shard(0, 4), new Shard(4, 3), new Shard(7, 3)), first.plan());
            assertEquals(10, first.globalBatch());
            assertEquals(0, first.startStep());
            assertEquals(token, first.jobToken());
            assertEquals(List.of("w0", "w1", "w2").indexOf(worker.id), first.rankOf(worker.id));
        }
        assertEquals(w0.received.get(0), new GenerationNode(admin, layout).read().orElseThrow().generation());
        assertEquals(-1, w0.received.get(0).rankOf("w9"));
        assertTrue(impostor.received.isEmpty(), "a worker with another token is neither admitted nor handed "
                + "the job's generation");
        assertEquals(JobStatus.State.RUNNING, new JobStatusNode(admin, layout).read().orElseThrow().state());
    }

    @Test
    @Timeout(60)
    void aMemberThatDiesIsLeftOutOfTheNextGeneration() throws Exception {
        submit(12, 2, 3, 10_000); // three of at most three: no settle wait
        coordinator("c1");
        TestWorker w0 = worker("w0");
        TestWorker w1 = worker("w1");
        TestWorker w2 = worker("w2");
        for (TestWorker worker : List.of(w0, w1, w2)) {
            assertEquals(3, worker.await(1).worldSize());
        }
        w0.session.status().update(status -> status.withStep(41, 2.5, 100)); // rank 0 reports progress

        w1.crash();

        Generation second = w0.await(2);
        assertEquals(List.of("w0", "w2"), second.members());
        assertEquals(List.of(TestWorker.endpointOf("w0"), TestWorker.endpointOf("w2")), second.endpoints());
        assertEquals(List.of(new Shard(0, 6), new Shard(6, 6)), second.plan());
        assertEquals(42, second.startStep(), "the step after the last one reported");
        assertEquals(second, w2.await(2));
        assertEquals(1, second.rankOf("w2"));
    }

    @Test
    @Timeout(60)
    void aJoinerIsAdmittedAtTheNextGenerationAfterTheSurvivors() throws Exception {
        submit(12, 2, 4, 300);
        coordinator("c1");
        TestWorker w0 = worker("w0");
        TestWorker w1 = worker("w1");
        assertEquals(List.of("w0", "w1"), w0.await(1).members()); // two of at most four, after 300 ms of settling
        w1.await(1);

        TestWorker joiner = worker("a-joiner"); // sorts first, yet joins last: rank 0 must hold the parameters

        Generation second = w0.await(2);
        assertEquals(List.of("w0", "w1", "a-joiner"), second.members());
        assertEquals(List.of(new Shard(0, 4), new Shard(4, 4), new Shard(8, 4)), second.plan());
        assertEquals(second, w1.await(2));
        assertEquals(second, joiner.await(2));
        assertEquals(2, second.rankOf("a-joiner"));
    }

    @Test
    @Timeout(60)
    void aWorkerWhoseSessionExpiredRegistersAgainAndKeepsReceivingGenerations() throws Exception {
        submit(12, 2, 3, 200);
        coordinator("c1");
        TestWorker w0 = worker("w0");
        TestWorker w1 = worker("w1");
        TestWorker w2 = worker("w2");
        for (TestWorker worker : List.of(w0, w1, w2)) {
            worker.await(1);
        }
        long oldSession = Sessions.sessionId(w2.client);

        Sessions.expire(w2.client, zooKeeper.connectString()); // its node vanishes; Curator: LOST, RECONNECTED

        while (true) { // registered again, under its new session
            Stat stat = admin.checkExists().forPath(layout.worker("w2"));
            long session = Sessions.sessionId(w2.client);
            if (stat != null && session != oldSession && stat.getEphemeralOwner() == session) {
                break;
            }
            Thread.sleep(50);
        }
        w0.crash();

        // Whether the coordinator saw w2 leave and come back, or not, the generation without w0 has w1 then w2;
        // w2 receives it, so its watch on the generation survived the new session.
        Generation withoutW0 = w2.awaitMatching(g -> g.members().equals(List.of("w1", "w2")));
        assertEquals(withoutW0, w1.awaitMatching(g -> g.number() == withoutW0.number()));
        assertNotEquals(oldSession, Sessions.sessionId(w2.client));
    }

    @Test
    @Timeout(90)
    void aStandbyTakesOverAndContinuesTheGenerationNumbers() throws Exception {
        submit(12, 2, 3, 200);
        CuratorFramework firstClient = client();
        Coordinator first = open(new Coordinator(firstClient, layout, "c1"));
        first.start();
        first.awaitLeadership();
        Coordinator standby = coordinator("c2");
        TestWorker w0 = worker("w0");
        TestWorker w1 = worker("w1");
        TestWorker w2 = worker("w2");
        for (TestWorker worker : List.of(w0, w1, w2)) {
            worker.await(1);
        }
        assertFalse(standby.isLeader());

        first.close(); // the leader goes away
        firstClient.close();
        standby.awaitLeadership();
        assertEquals(1, new GenerationNode(admin, layout).read().orElseThrow().generation().number(),
                "the new leader keeps the generation it found");

        w2.crash();

        Generation second = w0.await(2);
        assertEquals(List.of("w0", "w1"), second.members());
        assertEquals(second, w1.await(2));
        assertEquals(List.of(1L, 2L), w0.received.stream().map(Generation::number).toList());
    }

    @Test
    @Timeout(90)
    void aLeaderWhoseSessionExpiresStepsDownAndLeadsAgainOnlyOnceItRegainsTheLatch() throws Exception {
        submit(12, 2, 4, 200);
        CuratorFramework firstClient = client();
        Coordinator first = open(new Coordinator(firstClient, layout, "c1"));
        first.start();
        first.awaitLeadership();
        Coordinator second = coordinator("c2");
        List<TestWorker> workers = List.of(worker("w0"), worker("w1"), worker("w2"), worker("w3"));
        for (TestWorker worker : workers) {
            worker.await(1);
        }
        TestWorker w0 = workers.get(0);

        Sessions.expire(firstClient, zooKeeper.connectString()); // c1: SUSPENDED, then LOST; its latch node is gone

        second.awaitLeadership();
        // c1 learns of its expired session on Curator's event thread, which may come after c2 has won the latch
        // (what keeps c1 from writing meanwhile is the fenced generation write, GenerationNodeTest): wait, bounded.
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (first.isLeader() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertFalse(first.isLeader(), "c1 still holds the latch 10 s after its session expired");
        workers.get(1).crash();
        assertEquals(List.of("w0", "w2", "w3"), w0.await(2).members()); // written by c2

        second.close(); // c1, back in the election under a new session, wins the latch again
        first.awaitLeadership();
        workers.get(3).crash();
        Generation third = w0.await(3); // written by c1, continuing from what c2 left in ZooKeeper
        assertEquals(List.of("w0", "w2"), third.members());
        assertEquals(third, workers.get(2).await(3));
    }

    // ---------------------------------------------------------------------------------------------------------

    private <T extends AutoCloseable> T open(T resource) {
        open.push(resource);
        return resource;
    }

    private CuratorFramework client() throws InterruptedException {
        CuratorFramework client = open(ZkConnection.of(zooKeeper.connectString(), 2000).newClient());
        client.start();
        client.blockUntilConnected();
        return client;
    }

    private Coordinator coordinator(String id) throws Exception {
        Coordinator coordinator = open(new Coordinator(client(), layout, id));
        coordinator.start();
        return coordinator;
    }

    private TestWorker worker(String id) throws Exception {
        return open(TestWorker.start(zooKeeper.connectString(), layout, id, token));
    }

    private void submit(int globalBatch, int minWorkers, int maxWorkers, long settleMs) throws Exception {
        Coordinator.submit(admin, layout, JobSpec.of(token, globalBatch, minWorkers, maxWorkers, settleMs,
                "train:\n  batch_size: " + globalBatch + "\n"));
    }
}

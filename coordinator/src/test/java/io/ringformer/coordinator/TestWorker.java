package io.ringformer.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ringformer.protocol.Generation;
import io.ringformer.protocol.WorkerInfo;
import io.ringformer.protocol.WorkerSession;
import io.ringformer.protocol.ZkConnection;
import io.ringformer.protocol.ZkLayout;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Predicate;
import org.apache.curator.framework.CuratorFramework;

/** A worker without a model: its own ZooKeeper client and session, and every generation it was handed. */
final class TestWorker implements AutoCloseable {

    static final int SESSION_TIMEOUT_MS = 2000;

    final String id;
    final CuratorFramework client;
    final WorkerSession session;
    final List<Generation> received = new CopyOnWriteArrayList<>();
    private final LinkedBlockingQueue<Generation> inbox = new LinkedBlockingQueue<>();

    private TestWorker(String connectString, ZkLayout layout, String id, String token) {
        this.id = id;
        this.client = ZkConnection.of(connectString, SESSION_TIMEOUT_MS).newClient();
        WorkerInfo info = new WorkerInfo("localhost", endpointOf(id), "cpu", "", WorkerInfo.State.JOINING, token);
        this.session = new WorkerSession(client, layout, id, info, generation -> {
            received.add(generation);
            inbox.add(generation);
        });
    }

    static TestWorker start(String connectString, ZkLayout layout, String id, String token) throws Exception {
        TestWorker worker = new TestWorker(connectString, layout, id, token);
        worker.client.start();
        worker.session.start();
        return worker;
    }

    /** A made-up Aeron channel, distinct per worker. */
    static String endpointOf(String id) {
        return "aeron:udp?endpoint=127.0.0.1:" + (40000 + Math.floorMod(id.hashCode(), 20000));
    }

    /** Blocks until a generation numbered at least {@code number} arrives, and checks it is exactly that one. */
    Generation await(long number) throws InterruptedException {
        while (true) {
            Generation generation = inbox.take();
            if (generation.number() >= number) {
                assertEquals(number, generation.number(), id + " skipped past generation " + number);
                return generation;
            }
        }
    }

    /** Blocks until a generation that {@code wanted} accepts arrives, passing over the others. */
    Generation awaitMatching(Predicate<Generation> wanted) throws InterruptedException {
        while (true) {
            Generation generation = inbox.take();
            if (wanted.test(generation)) {
                return generation;
            }
        }
    }

    /** Dies as far as ZooKeeper can tell: its session ends without a goodbye (its ephemeral node goes with it). */
    void crash() {
        client.close();
    }

    @Override
    public void close() {
        session.close();
        client.close();
    }
}

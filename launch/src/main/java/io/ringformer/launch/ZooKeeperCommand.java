package io.ringformer.launch;

import io.ringformer.coordinator.EmbeddedZooKeeper;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ringformer zookeeper}: a standalone single-server ZooKeeper for development and small clusters
 * (tickTime 500 ms, so 2–4 s sessions detect a dead worker quickly). Production clusters use an ensemble.
 */
@Command(name = "zookeeper", mixinStandardHelpOptions = true,
        description = "Run a standalone development ZooKeeper server until Ctrl-C.")
public final class ZooKeeperCommand implements Callable<Integer> {

    @Option(names = "--port", defaultValue = "2181", description = "Client port; 0 for any free one (default ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--data", paramLabel = "DIR", description = "Data directory to keep (default: temporary, deleted on exit).")
    Path data;

    @Option(names = "--bind", defaultValue = "127.0.0.1",
            description = "Listen address; 0.0.0.0 for every interface, as a cluster needs (default ${DEFAULT-VALUE}).")
    String bind;

    @Option(names = "--await-port", description = "Wait until --port is free, then serve: start the replacement of "
            + "a server that is about to be restarted, and it takes over within milliseconds of the old one's exit "
            + "(with the same --data, the sessions survive).")
    boolean awaitPort;

    @Override
    public Integer call() throws Exception {
        if (awaitPort) {
            awaitFree(bind, port);
        }
        EmbeddedZooKeeper server = new EmbeddedZooKeeper(EmbeddedZooKeeper.DEFAULT_TICK_TIME_MS, bind, port, data);
        server.start();
        String host = bind.equals("0.0.0.0") ? InetAddress.getLocalHost().getHostName() : bind;
        System.out.println("ZooKeeper serving at " + host + ":" + server.port() + " (Ctrl-C stops it)");
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }));
        stopped.await();
        return 0;
    }

    private static void awaitFree(String bind, int port) throws InterruptedException {
        if (port == 0) {
            throw new UsageException("--await-port needs a --port");
        }
        System.out.println("waiting for " + bind + ":" + port + " to be free");
        while (true) {
            try (java.net.ServerSocket probe = new java.net.ServerSocket()) {
                probe.setReuseAddress(true);
                probe.bind(new java.net.InetSocketAddress(bind, port));
                return;
            } catch (java.io.IOException taken) {
                Thread.sleep(10);
            }
        }
    }
}

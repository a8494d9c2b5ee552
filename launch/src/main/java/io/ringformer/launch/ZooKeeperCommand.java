package io.ringformer.launch;

import io.ringformer.coordinator.EmbeddedZooKeeper;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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
            description = "Listen address; 0.0.0.0 for every interface, as a cluster needs — then ZooKeeper "
                    + "credentials are required (--zk-auth or RINGFORMER_ZK_AUTH) (default ${DEFAULT-VALUE}).")
    String bind;

    @Option(names = "--await-port", description = "Wait until --port is free, then serve: start the replacement of "
            + "a server that is about to be restarted, and it takes over within milliseconds of the old one's exit "
            + "(with the same --data, the sessions survive).")
    boolean awaitPort;

    @Mixin
    ZkAuthOption zkAuth;

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65535) {
            throw new UsageException("--port must be 0 … 65535, got " + port);
        }
        zkAuth.apply();
        ListenAddress address = ListenAddress.of(bind, "--bind")
                .requireCredentialsBeyondLoopback("ZooKeeper", "--bind");
        if (awaitPort) {
            awaitFree(address, port);
        } else if (port > 0 && !free(address.address(), port)) {
            throw portInUse(address, port);               // before the server tries, and logs a stack trace
        }
        EmbeddedZooKeeper server = new EmbeddedZooKeeper(EmbeddedZooKeeper.DEFAULT_TICK_TIME_MS, bind, port, data);
        try {
            server.start();
        } catch (IOException e) {
            if (port > 0 && !free(address.address(), port)) {
                throw portInUse(address, port);
            }
            throw e;
        }
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

    /** Waits until the port is free (the server it replaces has exited). */
    private static void awaitFree(ListenAddress address, int port) throws InterruptedException {
        if (port == 0) {
            throw new UsageException("--await-port needs a --port");
        }
        System.out.println("waiting for " + address.address().getHostAddress() + ":" + port + " to be free");
        while (!free(address.address(), port)) {
            Thread.sleep(10);
        }
    }

    private static boolean free(InetAddress address, int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);                  // as ZooKeeper binds: a port in TIME_WAIT is free
            socket.bind(new InetSocketAddress(address, port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static UsageException portInUse(ListenAddress address, int port) {
        return new UsageException("port " + port + " on " + address.text() + " is in use (another ZooKeeper?): "
                + "choose another --port, or --port 0 for a free one");
    }
}

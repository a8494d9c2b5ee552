package io.ringformer.coordinator;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Properties;
import java.util.stream.Stream;
import org.apache.zookeeper.server.embedded.ExitHandler;
import org.apache.zookeeper.server.embedded.ZooKeeperServerEmbedded;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A standalone ZooKeeper server inside this JVM, for one machine (the laptop mode) and tests.
 *
 * <ul>
 *   <li>Listens on 127.0.0.1 only, on a port the OS picked: ZooKeeper cannot bind port 0, so {@link #start} asks
 *       the OS for a free port (a ServerSocket on port 0, closed at once) and, should another process take it in
 *       between, tries again with another.</li>
 *   <li>tickTime 500 ms by default (at most 1000): the server clamps sessions to [2, 20] ticks, and training wants
 *       2–4 s sessions; the maximum session is raised to 60 s so longer requests are honoured.</li>
 *   <li>No admin HTTP server; of the four-letter words only {@code srvr}, which {@link #start} uses to know the
 *       server is serving ({@code ruok} answers before it is).</li>
 *   <li>Its data lives in a temporary directory, deleted by {@link #close}.</li>
 * </ul>
 *
 * ZooKeeper's own configuration parser turns {@code admin.enableServer} and {@code 4lw.commands.whitelist} into
 * the JVM-wide system properties {@code zookeeper.admin.enableServer} and {@code zookeeper.4lw.commands.whitelist}.
 */
public final class EmbeddedZooKeeper implements AutoCloseable {

    public static final int DEFAULT_TICK_TIME_MS = 500;

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedZooKeeper.class);
    private static final int PORT_ATTEMPTS = 5;
    private static final long START_TIMEOUT_MS = 15_000;

    private final int tickTimeMs;
    private final String bindAddress;
    private final int fixedPort;
    private final Path keptDirectory;
    private Path baseDir;
    private ZooKeeperServerEmbedded server;
    private int port;

    public EmbeddedZooKeeper() {
        this(DEFAULT_TICK_TIME_MS);
    }

    /** @param tickTimeMs ZooKeeper's time unit, 100–1000 ms; sessions may last 2 to 20 ticks… up to 60 s */
    public EmbeddedZooKeeper(int tickTimeMs) {
        this(tickTimeMs, "127.0.0.1", 0, null);
    }

    /**
     * A server to keep: {@code ringformer zookeeper}.
     *
     * @param port          0 for one the OS has free
     * @param dataDirectory null for a temporary directory deleted on close; otherwise kept
     */
    public EmbeddedZooKeeper(int tickTimeMs, String bindAddress, int port, Path dataDirectory) {
        this.bindAddress = bindAddress;
        this.fixedPort = port;
        this.keptDirectory = dataDirectory;
        if (tickTimeMs < 100 || tickTimeMs > 1000) {
            throw new IllegalArgumentException("tickTime must be in [100, 1000] ms for 2–4 s sessions, got "
                    + tickTimeMs);
        }
        this.tickTimeMs = tickTimeMs;
    }

    /** Starts the server and returns once it answers {@code srvr}. */
    public synchronized void start() throws IOException {
        if (server != null) {
            throw new IllegalStateException("ZooKeeper already started on port " + port);
        }
        baseDir = keptDirectory != null ? Files.createDirectories(keptDirectory)
                : Files.createTempDirectory("ringformer-zk-");
        Exception last = null;
        for (int attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
            int candidate = fixedPort > 0 ? fixedPort : freePort();
            ZooKeeperServerEmbedded starting = null;
            try {
                starting = ZooKeeperServerEmbedded.builder()
                        .baseDir(baseDir)
                        .configuration(configuration(candidate))
                        .exitHandler(ExitHandler.LOG_ONLY)
                        .build();
                starting.start(START_TIMEOUT_MS);
                awaitServing(probeAddress(), candidate);
                server = starting;
                port = candidate;
                LOG.info("ZooKeeper serving at {} (tickTime {} ms, data in {})", connectString(), tickTimeMs,
                        baseDir);
                return;
            } catch (Exception e) {
                last = e;
                if (starting != null) {
                    starting.close();
                }
                if (fixedPort > 0 || !taken(candidate)) {
                    break; // not a port clash: another port will not help
                }
                LOG.warn("ZooKeeper could not have port {}, another process took it (attempt {} of {})", candidate,
                        attempt, PORT_ATTEMPTS);
            }
        }
        deleteBaseDir();
        throw new IOException("could not start an embedded ZooKeeper (see the server's errors logged above): "
                + last, last);
    }

    /** {@code <bind address>:<port>}; {@code 127.0.0.1:<port>} when it listens on every interface. */
    public String connectString() {
        if (server == null) {
            throw new IllegalStateException("ZooKeeper is not running");
        }
        return (bindAddress.equals("0.0.0.0") ? "127.0.0.1" : bindAddress) + ":" + port;
    }

    public int port() {
        return port;
    }

    /** The temporary directory holding the server's data (deleted by {@link #close}). */
    public Path dataDirectory() {
        if (server == null) {
            throw new IllegalStateException("ZooKeeper is not running");
        }
        return baseDir;
    }

    public int tickTimeMs() {
        return tickTimeMs;
    }

    /** Stops the server (clients' sessions end with it) and deletes its data. */
    @Override
    public synchronized void close() {
        if (server != null) {
            server.close();
            server = null;
        }
        deleteBaseDir();
    }

    private Properties configuration(int clientPort) {
        Properties p = new Properties();
        p.setProperty("tickTime", Integer.toString(tickTimeMs));
        p.setProperty("dataDir", baseDir.resolve("data").toString());
        p.setProperty("clientPort", Integer.toString(clientPort));
        p.setProperty("clientPortAddress", bindAddress);
        p.setProperty("maxSessionTimeout", "60000");
        p.setProperty("maxClientCnxns", "0");
        p.setProperty("maxCnxns", "0");
        p.setProperty("admin.enableServer", "false");
        p.setProperty("4lw.commands.whitelist", "srvr");
        return p;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static boolean taken(int port) {
        try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return !socket.isBound();
        } catch (IOException e) {
            return true;
        }
    }

    /** Where to ask {@code srvr}: the bind address, or loopback when the server listens on every interface. */
    private InetAddress probeAddress() throws IOException {
        InetAddress bound = InetAddress.getByName(bindAddress);
        return bound.isAnyLocalAddress() ? InetAddress.getLoopbackAddress() : bound;
    }

    /** Polls {@code srvr} until the server reports its mode. */
    private static void awaitServing(InetAddress address, int port) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT_MS * 1_000_000;
        String reply = "";
        while (System.nanoTime() < deadline) {
            reply = fourLetterWord(address, port, "srvr");
            if (reply.contains("Mode:")) {
                return;
            }
            Thread.sleep(50);
        }
        throw new IOException("ZooKeeper on port " + port + " did not answer 'srvr' with its mode within "
                + START_TIMEOUT_MS + " ms; last reply: '" + reply.strip() + "'");
    }

    /** Sends a four-letter word to a server on loopback and returns the reply, or "" if it did not answer. */
    static String fourLetterWord(int port, String word) {
        return fourLetterWord(InetAddress.getLoopbackAddress(), port, word);
    }

    private static String fourLetterWord(InetAddress address, int port, String word) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(address, port), 1000);
            socket.setSoTimeout(2000);
            OutputStream out = socket.getOutputStream();
            out.write(word.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    private void deleteBaseDir() {
        if (baseDir == null || keptDirectory != null) {
            return;
        }
        try (Stream<Path> paths = Files.walk(baseDir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            LOG.warn("could not delete ZooKeeper data in {}: {}", baseDir, e.toString());
        }
        baseDir = null;
    }
}

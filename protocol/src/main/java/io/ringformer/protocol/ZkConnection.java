package io.ringformer.protocol;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Objects;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.BoundedExponentialBackoffRetry;

/**
 * How a coordinator or a worker reaches ZooKeeper, validated in one place, and the Curator client made from it.
 *
 * <p>The session timeout is how long after a process dies (or is cut off) its ephemeral nodes vanish: a dead
 * worker leaves its generation, a dead coordinator's standby takes over. DESIGN.md §2 measured 1.8 s for a 2 s
 * session and 3.7 s for a 4 s one. The server clamps it to [2, 20] × its tickTime, so short sessions need a
 * server with tickTime ≤ 1000 ms ({@code EmbeddedZooKeeper} uses 500 ms; set it in a standalone zoo.cfg).
 *
 * <p>Security: with {@link ZkAuth} credentials the client authenticates with the {@code digest} scheme as it
 * connects, and every node it creates gets {@link DigestAcl}'s ACL (everything for those credentials, nothing for
 * the world on a job's nodes). {@link #of} takes the process's configured credentials ({@code --zk-auth} or
 * {@code RINGFORMER_ZK_AUTH}), so every client of a process — coordinator, worker session, status, the launcher
 * of {@code train --workers} — gets the same.
 *
 * @param connectString       {@code host:port[,host:port…][/chroot]}
 * @param sessionTimeoutMs    2000–4000 for training jobs; at least 1000
 * @param connectionTimeoutMs how long one attempt to connect may take; at most the session timeout
 * @param auth                digest credentials, or null for none (open ACLs, as ZooKeeper's default)
 */
public record ZkConnection(String connectString, int sessionTimeoutMs, int connectionTimeoutMs, ZkAuth auth) {

    /** 2 s sessions, as DESIGN.md suggests for quick failure detection. */
    public static final int DEFAULT_SESSION_TIMEOUT_MS = 2000;

    public ZkConnection {
        Objects.requireNonNull(connectString, "connectString");
        if (connectString.isBlank()) {
            throw new InputException("ZooKeeper address must not be empty (--zk host:port[,…])");
        }
        if (sessionTimeoutMs < 1000 || sessionTimeoutMs > 60_000) {
            throw new InputException("the ZooKeeper session timeout must be 1000–60000 ms (--session-timeout-ms), "
                    + "got " + sessionTimeoutMs);
        }
        if (connectionTimeoutMs < 100 || connectionTimeoutMs > sessionTimeoutMs) {
            throw new IllegalArgumentException("ZooKeeper connection timeout must be in [100, session timeout "
                    + sessionTimeoutMs + "] ms, got " + connectionTimeoutMs);
        }
    }

    /**
     * A connection with the given session timeout, a connection timeout equal to it, and this process's configured
     * credentials ({@link ZkAuth#configured}), if any.
     */
    public static ZkConnection of(String connectString, int sessionTimeoutMs) {
        return new ZkConnection(connectString, sessionTimeoutMs, sessionTimeoutMs,
                ZkAuth.configured().orElse(null));
    }

    /** This connection with {@code credentials} (null: none). */
    public ZkConnection withAuth(ZkAuth credentials) {
        return new ZkConnection(connectString, sessionTimeoutMs, connectionTimeoutMs, credentials);
    }

    /**
     * Checks that every host of the connect string has an address and every port is a port: an
     * {@link InputException} naming the host, rather than a client that retries a name that cannot resolve.
     */
    public void checkHosts() {
        int chroot = connectString.indexOf('/');
        String hosts = chroot >= 0 ? connectString.substring(0, chroot) : connectString;
        for (String server : hosts.split(",")) {
            String entry = server.strip();
            int colon = entry.lastIndexOf(':');
            String host = entry.startsWith("[") ? entry.substring(1, Math.max(1, entry.indexOf(']')))
                    : colon >= 0 ? entry.substring(0, colon) : entry;
            String port = entry.startsWith("[") ? entry.substring(entry.indexOf(']') + 1).replaceFirst("^:", "")
                    : colon >= 0 ? entry.substring(colon + 1) : "2181";
            if (host.isEmpty() || !port.matches("\\d{1,5}") || Integer.parseInt(port) > 65535
                    || Integer.parseInt(port) == 0) {
                throw new InputException("ZooKeeper address '" + connectString + "' (--zk) is not host:port[,…]: "
                        + "'" + entry + "'");
            }
            try {
                InetAddress.getAllByName(host);
            } catch (UnknownHostException e) {
                throw new InputException("unknown host '" + host + "' in the ZooKeeper address " + connectString
                        + " (--zk): check the name, or use an IP address");
            }
        }
    }

    /**
     * A new, not yet started client, after {@link #checkHosts}. Operations retry with backoff (100 ms doubling to
     * 1 s, 20 times) across connection loss; the caller starts it and closes it (closing ends the session and
     * removes its ephemeral nodes at once). With credentials it authenticates and creates nodes with
     * {@link DigestAcl}.
     */
    public CuratorFramework newClient() {
        checkHosts();
        CuratorFrameworkFactory.Builder builder = CuratorFrameworkFactory.builder()
                .connectString(connectString)
                .sessionTimeoutMs(sessionTimeoutMs)
                .connectionTimeoutMs(connectionTimeoutMs)
                .retryPolicy(new BoundedExponentialBackoffRetry(100, 1000, 20));
        if (auth != null) {
            builder.authorization("digest", auth.authBytes()).aclProvider(new DigestAcl(auth));
        }
        return builder.build();
    }
}

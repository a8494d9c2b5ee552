package io.ringformer.protocol;

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
 * @param connectString       {@code host:port[,host:port…]}
 * @param sessionTimeoutMs    2000–4000 for training jobs; at least 1000
 * @param connectionTimeoutMs how long one attempt to connect may take; at most the session timeout
 */
public record ZkConnection(String connectString, int sessionTimeoutMs, int connectionTimeoutMs) {

    /** 2 s sessions, as DESIGN.md suggests for quick failure detection. */
    public static final int DEFAULT_SESSION_TIMEOUT_MS = 2000;

    public ZkConnection {
        Objects.requireNonNull(connectString, "connectString");
        if (connectString.isBlank()) {
            throw new IllegalArgumentException("ZooKeeper connect string must not be empty (host:port[,…])");
        }
        if (sessionTimeoutMs < 1000) {
            throw new IllegalArgumentException("ZooKeeper session timeout must be ≥ 1000 ms, got "
                    + sessionTimeoutMs);
        }
        if (connectionTimeoutMs < 100 || connectionTimeoutMs > sessionTimeoutMs) {
            throw new IllegalArgumentException("ZooKeeper connection timeout must be in [100, session timeout "
                    + sessionTimeoutMs + "] ms, got " + connectionTimeoutMs);
        }
    }

    /** A connection with the given session timeout and a connection timeout equal to it. */
    public static ZkConnection of(String connectString, int sessionTimeoutMs) {
        return new ZkConnection(connectString, sessionTimeoutMs, sessionTimeoutMs);
    }

    /**
     * A new, not yet started client. Operations retry with backoff (100 ms doubling to 1 s, 20 times) across
     * connection loss; the caller starts it and closes it (closing ends the session and removes its ephemeral
     * nodes at once).
     */
    public CuratorFramework newClient() {
        return CuratorFrameworkFactory.builder()
                .connectString(connectString)
                .sessionTimeoutMs(sessionTimeoutMs)
                .connectionTimeoutMs(connectionTimeoutMs)
                .retryPolicy(new BoundedExponentialBackoffRetry(100, 1000, 20))
                .build();
    }
}

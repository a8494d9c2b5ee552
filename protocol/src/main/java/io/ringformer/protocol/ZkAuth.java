package io.ringformer.protocol;

import java.nio.charset.StandardCharsets;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/**
 * Credentials for ZooKeeper's {@code digest} scheme: {@code user:password}. A client that presents them is
 * {@code digest:user:base64(sha1(user:password))} to the server, and the job's znodes it creates carry an ACL
 * granting everything to that id and nothing to anyone else ({@link DigestAcl}), so only processes with the same
 * credentials can read the spec (and its job token), register, or write generations.
 *
 * <p>Where they come from, first found wins: {@code --zk-auth USER:PASSWORD} on the command line
 * ({@link #configure}), else the environment variable {@code RINGFORMER_ZK_AUTH} — which is also how they reach
 * child processes (a command line is visible to every user of the machine in {@code ps}; an environment is not).
 * The password is never logged: {@link #toString} hides it, and errors never quote the value.
 *
 * @param user     the digest user, non-empty, without ':'
 * @param password the password, non-empty
 */
public record ZkAuth(String user, String password) {

    /** The environment variable that holds {@code user:password}. */
    public static final String ENVIRONMENT = "RINGFORMER_ZK_AUTH";

    private static volatile ZkAuth commandLine;

    public ZkAuth {
        if (user == null || user.isEmpty() || user.contains(":") || password == null || password.isEmpty()) {
            throw new InputException("ZooKeeper credentials must be USER:PASSWORD, both non-empty");
        }
    }

    /** Parses {@code user:password}; {@code source} names where it came from in the error (never the value). */
    public static ZkAuth parse(String text, String source) {
        int colon = text == null ? -1 : text.indexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new InputException(source + " must be USER:PASSWORD, both non-empty");
        }
        return new ZkAuth(text.substring(0, colon), text.substring(colon + 1));
    }

    /** Makes {@code auth} this process's credentials (the {@code --zk-auth} option); null leaves it unset. */
    public static void configure(ZkAuth auth) {
        commandLine = auth;
    }

    /** This process's credentials: {@link #configure}d, else from {@code RINGFORMER_ZK_AUTH}, else none. */
    public static Optional<ZkAuth> configured() {
        ZkAuth set = commandLine;
        if (set != null) {
            return Optional.of(set);
        }
        String environment = System.getenv(ENVIRONMENT);
        return environment == null || environment.isEmpty() ? Optional.empty()
                : Optional.of(parse(environment, ENVIRONMENT));
    }

    /** What a client sends to authenticate: {@code user:password} in UTF-8. */
    public byte[] authBytes() {
        return (user + ":" + password).getBytes(StandardCharsets.UTF_8);
    }

    /** The server's name for a client with these credentials: {@code digest:user:base64(sha1(user:password))}. */
    public Id id() {
        try {
            return new Id("digest", DigestAuthenticationProvider.generateDigest(user + ":" + password));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 is missing from this JVM", e);
        }
    }

    /**
     * Every permission for this id, nothing for anyone else. (Not a {@code List.of}: ZooKeeper asks the list
     * whether it contains null, which an immutable list answers with a NullPointerException.)
     */
    public List<ACL> creatorAll() {
        return Collections.unmodifiableList(new ArrayList<>(List.of(new ACL(ZooDefs.Perms.ALL, id()))));
    }

    /** {@code user:password} for a child process's environment; never print it. */
    public String secret() {
        return user + ":" + password;
    }

    @Override
    public String toString() {
        return "ZkAuth[user=" + user + ", password=***]";
    }
}

package io.ringformer.launch;

import io.ringformer.protocol.ZkAuth;
import picocli.CommandLine.Option;

/**
 * {@code --zk-auth USER:PASSWORD}, shared by the commands that talk to ZooKeeper (coordinator, worker, status,
 * train). {@link #apply} makes the credentials this process's ({@link ZkAuth#configure}), so every ZooKeeper client
 * it opens authenticates with them and creates the job's nodes with digest ACLs; child processes receive them in
 * {@code RINGFORMER_ZK_AUTH} ({@link ChildJvm}). Without the option the environment variable is used, which keeps
 * the password out of {@code ps}.
 */
public final class ZkAuthOption {

    @Option(names = "--zk-auth", paramLabel = "USER:PASSWORD",
            description = "ZooKeeper digest credentials: the job's znodes get ACLs only these credentials pass "
                    + "(default: the environment variable " + ZkAuth.ENVIRONMENT + "; prefer it, a command line "
                    + "is visible to every user in ps).")
    String credentials;

    /** Configures the credentials for this process and returns them, if any (option, else environment). */
    public java.util.Optional<ZkAuth> apply() {
        if (credentials != null) {
            ZkAuth.configure(ZkAuth.parse(credentials, "--zk-auth"));
        }
        return ZkAuth.configured();
    }
}

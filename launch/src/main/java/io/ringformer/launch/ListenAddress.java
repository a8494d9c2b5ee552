package io.ringformer.launch;

import io.ringformer.protocol.InputException;
import io.ringformer.protocol.ZkAuth;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An address a server of ours listens on ({@code zookeeper --bind}, {@code worker --bind}), resolved and checked
 * before anything starts. An unknown name is an input error naming the option. An address beyond the loopback
 * interface (a real interface, or 0.0.0.0 for all of them) lets other machines in, so it is refused unless
 * ZooKeeper credentials are configured ({@code --zk-auth} or {@code RINGFORMER_ZK_AUTH}): with them the job's
 * znodes — its spec and job token, its membership — are readable only with the same credentials.
 *
 * @param text    as given on the command line
 * @param address what it resolved to
 */
record ListenAddress(String text, InetAddress address) {

    /** Resolves {@code text}, the value of {@code option}. */
    static ListenAddress of(String text, String option) {
        try {
            return new ListenAddress(text, InetAddress.getByName(text));
        } catch (UnknownHostException e) {
            throw new InputException("unknown host '" + text + "' for " + option + ": give an address of this "
                    + "machine, e.g. 127.0.0.1 or one of its interfaces' IP addresses");
        }
    }

    /** Whether only this machine can reach it. */
    boolean loopback() {
        return address.isLoopbackAddress();
    }

    /**
     * Refuses a non-loopback address when no credentials are configured.
     *
     * @param what who listens, for the message ({@code "ZooKeeper"}, {@code "this worker"})
     */
    ListenAddress requireCredentialsBeyondLoopback(String what, String option) {
        if (!loopback() && ZkAuth.configured().isEmpty()) {
            throw new InputException(option + " " + text + " would let other machines reach " + what + ", but no "
                    + "ZooKeeper credentials are configured: give --zk-auth USER:PASSWORD or set "
                    + ZkAuth.ENVIRONMENT + " (the job's znodes then get digest ACLs), or bind 127.0.0.1");
        }
        return this;
    }
}

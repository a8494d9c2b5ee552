package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Hosts made of Linux network namespaces on this machine, joined by a bridge: each host {@code i} (1 … n) has its
 * own {@code eth0} at {@code <subnet>.1i} and loopback, the bridge holds {@code <subnet>.1} in the root namespace, so
 * processes in different namespaces talk real UDP and TCP through it, and {@link #cut}/{@link #restore} take one
 * host's link down and up. Needs root (`ip netns`). Every name carries a random tag; {@link #close} removes them all.
 * Traffic stays on these addresses.
 */
final class Hosts implements AutoCloseable {

    private static final int MTU = 9000;

    private final String tag = Integer.toString(ThreadLocalRandom.current().nextInt(1000, 9999));
    private final String subnet = "10.213." + (1 + ThreadLocalRandom.current().nextInt(250));
    private final String bridge = "rfbr" + tag;
    private final int count;
    private final List<String> created = new ArrayList<>();

    Hosts(int count) throws Exception {
        this.count = count;
        ip("link", "add", bridge, "type", "bridge");
        created.add("bridge");
        ip("addr", "add", bridgeAddress() + "/24", "dev", bridge);
        ip("link", "set", bridge, "mtu", "" + MTU, "up");
        for (int i = 1; i <= count; i++) {
            ip("netns", "add", namespace(i));
            created.add(namespace(i));
            ip("link", "add", veth(i), "type", "veth", "peer", "name", "eth0", "netns", namespace(i));
            ip("link", "set", veth(i), "master", bridge, "mtu", "" + MTU, "up");
            ip("-n", namespace(i), "addr", "add", address(i) + "/24", "dev", "eth0");
            ip("-n", namespace(i), "link", "set", "eth0", "mtu", "" + MTU, "up");
            ip("-n", namespace(i), "link", "set", "lo", "up");
        }
    }

    /** The root namespace's address on the bridge: where servers the hosts reach listen. */
    String bridgeAddress() {
        return subnet + ".1";
    }

    String address(int host) {
        return subnet + "." + (10 + host);
    }

    String namespace(int host) {
        return "rfh" + tag + "-" + host;
    }

    /** The command prefix that runs a program on {@code host}. */
    List<String> on(int host) {
        return List.of("ip", "netns", "exec", namespace(host));
    }

    /** Takes the host's link down: its traffic times out, as if its cable were pulled. */
    void cut(int host) throws Exception {
        ip("link", "set", veth(host), "down");
    }

    void restore(int host) throws Exception {
        ip("link", "set", veth(host), "up");
    }

    private String veth(int host) {
        return "rfv" + tag + "-" + host;
    }

    static void ip(String... arguments) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(arguments));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(String.join(" ", command) + " did not finish");
        }
        assertEquals(0, p.exitValue(), () -> String.join(" ", command) + " failed (these tests need root and "
                + "iproute2): " + out);
    }

    @Override
    public void close() {
        for (int i = count; i >= 1; i--) {
            quietly("link", "del", veth(i));
            quietly("netns", "del", namespace(i));
        }
        quietly("link", "del", bridge);
    }

    private static void quietly(String... arguments) {
        try {
            ip(arguments);
        } catch (Throwable e) {
            // already gone
        }
    }
}

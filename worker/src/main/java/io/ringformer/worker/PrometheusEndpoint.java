package io.ringformer.worker;

import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * One role's metrics (a worker's, a coordinator's) in the Prometheus text format: a Micrometer registry whose every
 * sample carries the role's tag (e.g. {@code worker="w00"}), with Micrometer's {@code jvm_memory_*} gauges, served on
 * {@code http://BIND:PORT/metrics} by the JDK's HTTP server on one daemon thread.
 */
public final class PrometheusEndpoint implements AutoCloseable {

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final HttpServer server;

    private PrometheusEndpoint(HttpServer server, String role, String id) {
        this.server = server;
        registry.config().commonTags(role, id);
        new JvmMemoryMetrics().bindTo(registry);
    }

    /**
     * Starts serving; {@code port} 0 picks a free one. Logs "ROLE ID: metrics at URL".
     *
     * @throws UncheckedIOException when the address cannot be bound, naming it
     */
    public static PrometheusEndpoint serve(String bind, int port, String role, String id, Consumer<String> log) {
        HttpServer server;
        try {
            server = HttpServer.create(new InetSocketAddress(bind, port), 0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serve metrics on " + bind + ":" + port + ": " + e.getMessage()
                    + " (choose another --metrics-port, or 0 for any free one)", e);
        }
        PrometheusEndpoint endpoint = new PrometheusEndpoint(server, role, id);
        server.createContext("/metrics", http -> {
            byte[] body = endpoint.registry.scrape().getBytes(StandardCharsets.UTF_8);
            http.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            http.sendResponseHeaders(200, body.length);
            try (OutputStream out = http.getResponseBody()) {
                out.write(body);
            }
        });
        server.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread thread = new Thread(r, "metrics-http");
            thread.setDaemon(true);
            return thread;
        }));
        server.start();
        log.accept(role + " " + id + ": metrics at http://" + bind + ":" + server.getAddress().getPort() + "/metrics");
        return endpoint;
    }

    /** A gauge read when scraped; its Prometheus name is {@code name} with dots as underscores. */
    public void gauge(String name, String description, Supplier<Number> value) {
        Gauge.builder(name, value).description(description).register(registry);
    }

    /** A gauge with one more tag, for a family of samples ({@code reason="bad_mac"}). */
    public void gauge(String name, String description, String tag, String tagValue, Supplier<Number> value) {
        Gauge.builder(name, value).description(description).tag(tag, tagValue).register(registry);
    }

    @Override
    public void close() {
        server.stop(0);
        registry.close();
    }
}

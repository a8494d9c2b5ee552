package io.ringformer.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every ZooKeeper record's decoder against damaged bytes, from a fixed seed: random bytes, truncations, bit flips,
 * one value anywhere in the tree replaced by another type or an extreme, and deep nesting. Each case either
 * decodes to a record that encodes and decodes to itself (a flipped bit inside a string is still a record) or
 * fails with a {@link ProtocolException} that names the record — never another exception type, never a hang.
 */
class RecordFuzzTest {

    static final int CASES = 300;
    static final ObjectMapper JSON = new ObjectMapper();
    static final List<String> ODD_VALUES = List.of("null", "\"x\"", "[]", "{}", "-1", "0", "1.5", "1e999",
            "9223372036854775807", "-9223372036854775808", "2147483647", "\"\"", "true", "[null]", "[{}]",
            "{\"first\":2147483647,\"count\":2147483647}", "\"NaN\"", "\"running\"");

    /** One record type: its name in messages, a valid instance's bytes, and its decoder. */
    record Codec(String name, byte[] valid, Function<byte[], Object> decode, Function<Object, byte[]> encode) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Arguments> codecs() {
        Generation generation = new Generation(2, List.of("w0", "w2"),
                List.of("aeron:udp?endpoint=10.0.0.1:40123", "aeron:udp?endpoint=10.0.0.3:40777"),
                List.of("b0:/dev/shm/r/exchange", ""), 2, 120,
                List.of(new Shard(0, 7), new Shard(7, 6)), "tok", false);
        WorkerInfo worker = new WorkerInfo("node7", "aeron:udp?endpoint=10.0.0.7:40123", "cpu", "",
                WorkerInfo.State.TRAINING, "tok");
        JobStatus status = new JobStatus(JobStatus.State.RUNNING, 41, 2.31, 31200, "runs/gpt/checkpoints/step-00000040",
                "", "2026-12-03T12:41:03Z generation 2: 2 workers");
        JobSpec spec = JobSpec.of("tok", 12, 2, 4, 500, "train:\n  batch_size: 12\n");
        CheckpointManifest manifest = new CheckpointManifest(250, "runs/gpt/checkpoints/step-00000250", 4,
                spec.configSha256(), Map.of("params.bin", "e3b0", "optimizer.bin", "9f86"));
        return Stream.of(
                Arguments.of(new Codec("generation", generation.encode(), Generation::decode,
                        r -> ((Generation) r).encode())),
                Arguments.of(new Codec("worker info", worker.encode(), WorkerInfo::decode,
                        r -> ((WorkerInfo) r).encode())),
                Arguments.of(new Codec("job status", status.encode(), JobStatus::decode,
                        r -> ((JobStatus) r).encode())),
                Arguments.of(new Codec("job spec", spec.encode(), JobSpec::decode, r -> ((JobSpec) r).encode())),
                Arguments.of(new Codec("checkpoint manifest", manifest.encode(), CheckpointManifest::decode,
                        r -> ((CheckpointManifest) r).encode())));
    }

    @ParameterizedTest
    @MethodSource("codecs")
    void damagedBytesDecodeToARecordOrAProtocolExceptionNamingIt(Codec codec) {
        Random random = new Random(0xC0DEC ^ codec.name().hashCode());
        assertEquals(codec.decode().apply(codec.valid()), codec.decode().apply(codec.valid()));
        int refused = 0;
        for (int i = 0; i < CASES; i++) {
            int kind = i % 5;
            byte[] damaged = switch (kind) {
                case 0 -> randomBytes(random);
                case 1 -> Arrays.copyOf(codec.valid(), random.nextInt(codec.valid().length));
                case 2 -> bitFlip(codec.valid(), random);
                case 3 -> oddValue(codec.valid(), random);
                default -> nested(random);
            };
            String what = codec + ", case " + i + " (kind " + kind + ", '"
                    + new String(damaged, StandardCharsets.ISO_8859_1) + "')";
            Object decoded;
            try {
                decoded = assertTimeoutPreemptively(Duration.ofSeconds(5), () -> codec.decode().apply(damaged),
                        what + " hung");
            } catch (ProtocolException e) {
                assertTrue(e.getMessage().startsWith("cannot decode " + codec.name()), what + ": " + e.getMessage());
                refused++;
                continue;
            } catch (Throwable other) {
                throw new AssertionError(what + ": threw " + other, other);
            }
            if (decoded == null) {
                fail(what + ": decoded to null");
            }
            assertEquals(decoded, codec.decode().apply(codec.encode().apply(decoded)), what + ": no round trip");
        }
        assertTrue(refused >= CASES / 2, codec + ": only " + refused + " of " + CASES + " refused");
    }

    private static byte[] randomBytes(Random random) {
        byte[] bytes = new byte[random.nextInt(300)];
        random.nextBytes(bytes);
        if (bytes.length > 0 && random.nextBoolean()) {
            bytes[0] = '{';   // get past the first byte now and then
        }
        return bytes;
    }

    private static byte[] bitFlip(byte[] valid, Random random) {
        byte[] bytes = valid.clone();
        bytes[random.nextInt(bytes.length)] ^= (byte) (1 << random.nextInt(8));
        return bytes;
    }

    /** The record's JSON with one node, anywhere in the tree, replaced by an odd value. */
    private static byte[] oddValue(byte[] valid, Random random) {
        try {
            JsonNode root = JSON.readTree(valid);
            List<JsonNode> containers = new ArrayList<>();
            collect(root, containers);
            JsonNode container = containers.get(random.nextInt(containers.size()));
            JsonNode odd = JSON.readTree(ODD_VALUES.get(random.nextInt(ODD_VALUES.size())));
            if (container instanceof ObjectNode object && object.size() > 0) {
                List<String> names = new ArrayList<>();
                object.fieldNames().forEachRemaining(names::add);
                object.set(names.get(random.nextInt(names.size())), odd);
            } else if (container instanceof ArrayNode array && array.size() > 0) {
                array.set(random.nextInt(array.size()), odd);
            }
            return JSON.writeValueAsBytes(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void collect(JsonNode node, List<JsonNode> containers) {
        if (node.isContainerNode()) {
            containers.add(node);
            node.elements().forEachRemaining(child -> collect(child, containers));
        }
    }

    /** Arrays or objects nested up to 100,000 deep. */
    private static byte[] nested(Random random) {
        int depth = 1 + random.nextInt(100_000);
        boolean arrays = random.nextBoolean();
        String open = arrays ? "[" : "{\"a\":";
        return (open.repeat(depth) + "1" + (arrays ? "]" : "}").repeat(depth)).getBytes(StandardCharsets.UTF_8);
    }
}

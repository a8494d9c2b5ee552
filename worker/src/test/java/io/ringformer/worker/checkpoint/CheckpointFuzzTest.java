package io.ringformer.worker.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Damaged checkpoints, generated from a fixed seed: random bytes, truncations and single bit flips in each of
 * {@code manifest.json}, {@code params.bin}, {@code optimizer.bin} and {@code state.json}. Every one must be
 * reported by {@link CheckpointStore#verify} (a reason, never an exception) and refused by
 * {@link CheckpointStore#load} with a {@link CheckpointException} — never another exception type, never a hang.
 *
 * <p>A second family damages a file and then rewrites the manifest so that the checksums match (what a writer's
 * bug, not a disk, would produce): the readers behind the checksums must then refuse with a
 * {@link CheckpointException} too, or load — never throw anything else, and never allocate what the file cannot
 * hold.
 */
class CheckpointFuzzTest {

    static final int CASES = 240;
    static final long SEED = 0x5EED_F022L;
    static final List<String> FILES = List.of(CheckpointStore.MANIFEST, CheckpointStore.PARAMS,
            CheckpointStore.OPTIMIZER, CheckpointStore.STATE);

    @TempDir
    Path run;
    Path pristine;

    @BeforeEach
    void writeOneCheckpoint() throws IOException {
        Path tokenizer = Files.writeString(Files.createDirectories(run.resolve("source")).resolve("tokenizer.txt"),
                "ringformer-char-tokenizer 1\n97\n98\n");
        pristine = new CheckpointStore(run, 1).write(CheckpointStoreTest.state(4), "model:\n  n_layer: 2\n",
                tokenizer, Map.of("loss", 2.5));
        assertEquals(null, CheckpointStore.verify(pristine));
    }

    /**
     * What one case does to a file's bytes. STRUCTURE keeps the file well-formed but wrong: in a JSON file one
     * value (anywhere in the tree) becomes another type or an extreme; in an array file one header field (magic,
     * array count, step count, an array's length) becomes a random or extreme integer.
     */
    enum Damage { RANDOM_BYTES, TRUNCATION, BIT_FLIP, STRUCTURE }

    static final ObjectMapper JSON = new ObjectMapper();
    static final List<String> ODD_VALUES = List.of("null", "\"x\"", "[]", "{}", "-1", "0", "1e999", "9223372036854775807",
            "\"../../../../dev/zero\"", "{\"bytes\":\"4\"}", "true", "[{}]");
    static final int[] ODD_INTS = {0, -1, 1, 2, 3, Integer.MAX_VALUE, Integer.MIN_VALUE, 1 << 30};

    static byte[] damage(byte[] original, Damage kind, Random random) {
        return switch (kind) {
            case STRUCTURE -> original[0] == '{' ? oddJsonValue(original, random) : oddHeaderField(original, random);
            case RANDOM_BYTES -> {
                byte[] bytes = new byte[random.nextInt(original.length * 2 + 1)];
                random.nextBytes(bytes);
                yield bytes;
            }
            case TRUNCATION -> java.util.Arrays.copyOf(original, random.nextInt(original.length));
            case BIT_FLIP -> {
                byte[] bytes = original.clone();
                bytes[random.nextInt(bytes.length)] ^= (byte) (1 << random.nextInt(8));
                yield bytes;
            }
        };
    }

    /** The JSON with one node, chosen at random among all of them, replaced by an odd value. */
    static byte[] oddJsonValue(byte[] original, Random random) {
        try {
            JsonNode root = JSON.readTree(original);
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
            } else {
                return "[]".getBytes(java.nio.charset.StandardCharsets.UTF_8);
            }
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
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

    /** The array file with one header int (magic, count, the step count's halves, an array's length) replaced. */
    static byte[] oddHeaderField(byte[] original, Random random) {
        List<Integer> offsets = new ArrayList<>(List.of(0, 4, 8, 12, 16));
        int firstLength = java.nio.ByteBuffer.wrap(original, 16, 4).getInt();
        if (20 + 4L * firstLength + 4 <= original.length) {
            offsets.add(20 + 4 * firstLength);                       // the second array's length
        }
        byte[] bytes = original.clone();
        int value = random.nextBoolean() ? random.nextInt() : ODD_INTS[random.nextInt(ODD_INTS.length)];
        java.nio.ByteBuffer.wrap(bytes).putInt(offsets.get(random.nextInt(offsets.size())), value);
        return bytes;
    }

    @ParameterizedTest
    @ValueSource(strings = {"manifest.json", "params.bin", "optimizer.bin", "state.json"})
    @Timeout(120)
    void everyDamagedFileIsACheckpointException(String file) throws Exception {
        Random random = new Random(SEED ^ file.hashCode());
        byte[] original = Files.readAllBytes(pristine.resolve(file));
        int[] seen = new int[Damage.values().length];
        for (int i = 0; i < CASES; i++) {
            Damage kind = Damage.values()[i % Damage.values().length];
            byte[] damaged = damage(original, kind, random);
            if (java.util.Arrays.equals(damaged, original)) {
                continue; // a header field set to the value it had; counted below
            }
            Path copy = copyOfPristine("case-" + i);
            Files.write(copy.resolve(file), damaged);
            String what = file + ", case " + i + " (" + kind + ")";
            String reason = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> CheckpointStore.verify(copy),
                    what + " hung in verify");
            assertNotNull(reason, what + ": damage not detected");
            CheckpointException refused = refusal(copy, what);
            assertTrue(refused.getMessage().contains(copy.toString()), refused.getMessage());
            seen[kind.ordinal()]++;
            deleteTree(copy.getParent());
        }
        for (Damage kind : Damage.values()) {
            assertTrue(seen[kind.ordinal()] >= CASES / Damage.values().length * 3 / 4, kind + ": " + seen[kind.ordinal()]);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"params.bin", "optimizer.bin", "state.json"})
    @Timeout(120)
    void damageBehindMatchingChecksumsIsRefusedOrHarmless(String file) throws Exception {
        Random random = new Random(SEED * 31 + file.hashCode());
        byte[] original = Files.readAllBytes(pristine.resolve(file));
        int refusedCount = 0;
        for (int i = 0; i < CASES; i++) {
            Damage kind = Damage.values()[i % Damage.values().length];
            byte[] damaged = damage(original, kind, random);
            Path copy = copyOfPristine("resigned-" + i);
            Files.write(copy.resolve(file), damaged);
            resign(copy, file, damaged);
            assertEquals(null, CheckpointStore.verify(copy), "the manifest was re-signed");
            String what = file + ", case " + i + " (" + kind + ")";
            try {
                Checkpoint loaded = assertTimeoutPreemptively(Duration.ofSeconds(10),
                        () -> CheckpointStore.load(copy), what + " hung");
                assertEquals(loaded.state().params().length, loaded.state().firstMoment().length);
                assertEquals(loaded.state().params().length, loaded.state().secondMoment().length);
            } catch (CheckpointException expected) {
                refusedCount++;
            } catch (Throwable other) {
                fail(what + ": " + other, other);
            }
            deleteTree(copy.getParent());
        }
        // random bytes and truncations break the headers, so most cases must be refused
        assertTrue(refusedCount >= CASES / 2, file + ": only " + refusedCount + " of " + CASES + " refused");
    }

    @Test
    void aManifestCannotPointOutsideItsDirectory() throws Exception {
        Path copy = copyOfPristine("escape");
        String manifest = Files.readString(copy.resolve(CheckpointStore.MANIFEST));
        Files.writeString(copy.resolve(CheckpointStore.MANIFEST), manifest.replace("\"tokenizer.txt\"",
                "\"../../../../dev/zero\""));
        String reason = CheckpointStore.verify(copy);
        assertTrue(reason != null && reason.contains("lists none, or more than one, of the artifacts"), reason);
        Files.writeString(copy.resolve(CheckpointStore.MANIFEST), manifest.replace("\"files\" : {",
                "\"files\" : {\n    \"../x\" : { \"bytes\" : 0, \"sha256\" : \"" + "0".repeat(64) + "\" },"));
        reason = CheckpointStore.verify(copy);
        assertTrue(reason != null && reason.contains("unexpected file '../x'"), reason);
    }

    @Test
    void theUndamagedCopyLoadsBitForBit() throws Exception {
        Checkpoint loaded = CheckpointStore.load(copyOfPristine("same"));
        assertArrayEquals(CheckpointStoreTest.state(4).params(), loaded.state().params());
        assertEquals(4, loaded.step());
    }

    private CheckpointException refusal(Path checkpoint, String what) {
        try {
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> CheckpointStore.load(checkpoint),
                    what + " hung in load");
        } catch (CheckpointException expected) {
            return expected;
        } catch (Throwable other) {
            fail(what + ": load threw " + other, other);
        }
        return fail(what + ": load accepted a damaged checkpoint");
    }

    /** A copy of the checkpoint under its own step-N name (the manifest's step is checked against the name). */
    private Path copyOfPristine(String name) throws IOException {
        Path target = Files.createDirectories(run.resolve("copies").resolve(name).resolve(pristine.getFileName()));
        try (var files = Files.list(pristine)) {
            for (Path f : files.toList()) {
                Files.copy(f, target.resolve(f.getFileName()));
            }
        }
        return target;
    }

    /** Rewrites the manifest's size and SHA-256 of {@code file} to match {@code bytes}. */
    private static void resign(Path checkpoint, String file, byte[] bytes) throws Exception {
        Path manifestFile = checkpoint.resolve(CheckpointStore.MANIFEST);
        String manifest = Files.readString(manifestFile);
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        Matcher entry = Pattern.compile("\"" + Pattern.quote(file) + "\" : \\{[^}]*\\}").matcher(manifest);
        assertTrue(entry.find(), manifest);
        String replaced = entry.group().replaceAll("\"sha256\" : \"[0-9a-f]{64}\"", "\"sha256\" : \"" + sha + "\"")
                .replaceAll("\"bytes\" : \\d+", "\"bytes\" : " + bytes.length);
        Files.writeString(manifestFile, manifest.replace(entry.group(), replaced));
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (var walk = Files.walk(root)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}

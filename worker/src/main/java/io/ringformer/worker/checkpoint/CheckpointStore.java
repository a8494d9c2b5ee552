package io.ringformer.worker.checkpoint;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.ringformer.worker.Trainer;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import io.ringformer.zoo.family.ModelFamilies;
import io.ringformer.zoo.family.ModelFamily;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Checkpoints of one run, in {@code <run>/checkpoints/step-<8 digits>/}:
 * <pre>
 *   params.bin      fp32 master parameters          optimizer.bin  AdamW moments and step count
 *   state.json      step, loss scale, figures,      config.yaml    the effective config
 *                   the data file's fingerprint
 *   the artifact    the family's preprocessing      manifest.json  SHA-256 and size of every file above
 *                   (tokenizer.txt, tokenizer.json,
 *                   image_stats.json)
 * </pre>
 * The RNG and data position need no file of their own: batches and dropout masks are functions of
 * (seed, step), and the seed is in the config.
 *
 * <p>Writing is atomic: every file goes into a hidden temporary directory ({@code .step-N.tmp-…}), is fsynced, the
 * manifest last; then the directory is renamed into place and its parent fsynced. A crash leaves either the old
 * set of checkpoints or the new one, never a half-written checkpoint under a real name. Writing a step that
 * already has a checkpoint never deletes that copy first: the old one is renamed aside ({@code .step-N.old-…}),
 * the new one renamed into place, and only then the old one deleted. The first write of a store removes hidden
 * directories such crashes left behind (only the run's writer writes: it holds the run's lock). Directories are
 * created with the process's umask, like the rest of the run, and their parents fsynced. The newest {@code keep} valid ones are kept,
 * so a corrupt checkpoint never pushes the last good one out.
 *
 * <p>Reading checks the manifest: a missing file, a wrong size or a wrong SHA-256 makes that checkpoint invalid;
 * {@link #latestValid} then falls back to the previous one and says so.
 */
public final class CheckpointStore {

    public static final String PARAMS = "params.bin";
    public static final String OPTIMIZER = "optimizer.bin";
    public static final String STATE = "state.json";
    public static final String CONFIG = "config.yaml";
    public static final String MANIFEST = "manifest.json";

    private static final Pattern NAME = Pattern.compile("step-(\\d{8})");
    private static final Pattern LEFTOVER = Pattern.compile("\\.step-\\d{8}\\.(tmp|old)-.*");
    private static final int MAGIC = 0x52464350; // "RFCP"
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectReader READER = JSON.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final List<String> CONTENT = List.of(PARAMS, OPTIMIZER, STATE, CONFIG);
    /** The files a family's artifact may be called: a checkpoint holds exactly one of them. */
    private static final List<String> ARTIFACTS = ModelFamilies.all().stream().map(ModelFamily::artifactFile)
            .distinct().toList();
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");
    private static final int FORMAT = 1;
    private static final long MAX_MANIFEST_BYTES = 1 << 20;
    private static final long MAX_STATE_BYTES = 16 << 20;

    private final Path directory;
    private final int keep;
    private final DataFingerprint data;
    private boolean swept;

    /** @param runDirectory the run directory; checkpoints live in its {@code checkpoints/} folder */
    public CheckpointStore(Path runDirectory, int keep) {
        this(runDirectory, keep, null);
    }

    /** A store whose checkpoints record {@code data}, the fingerprint of the data file the run trains on. */
    public CheckpointStore(Path runDirectory, int keep, DataFingerprint data) {
        this.directory = runDirectory.resolve("checkpoints");
        this.keep = Math.max(1, keep);
        this.data = data;
    }

    /** A store over an existing checkpoints folder or run directory, for listing and verifying. */
    public static CheckpointStore at(Path path) {
        Path run = path.getFileName() != null && path.getFileName().toString().equals("checkpoints")
                ? path.getParent() : path;
        return new CheckpointStore(run, Integer.MAX_VALUE);
    }

    public Path directory() {
        return directory;
    }

    /** Writes a checkpoint of {@code state} atomically and prunes old ones; returns its directory. */
    public Path write(Trainer.State state, String configYaml, Path artifactFile, Map<String, Object> info) {
        String artifact = artifactFile.getFileName().toString();
        if (!ARTIFACTS.contains(artifact)) {
            throw new IllegalArgumentException(artifact + " is not a family's artifact (" + ARTIFACTS + ")");
        }
        Path temporary = null;
        try {
            if (!Files.isDirectory(directory)) {
                Files.createDirectories(directory);
                fsync(directory.getParent());
            }
            if (!swept) {
                removeLeftovers();
                swept = true;
            }
            String name = String.format("step-%08d", state.step());
            temporary = hiddenSibling(name, ".tmp-");
            Files.createDirectory(temporary); // not createTempDirectory: that makes it 0700 whatever the umask
            writeFloats(temporary.resolve(PARAMS), List.of(state.params()), 0);
            writeFloats(temporary.resolve(OPTIMIZER), List.of(state.firstMoment(), state.secondMoment()),
                    state.optimizerSteps());
            Map<String, Object> stateJson = new LinkedHashMap<>();
            stateJson.put("step", state.step());
            stateJson.put("optimizer_steps", state.optimizerSteps());
            stateJson.put("loss_scale", state.lossScale());
            stateJson.put("clean_steps", state.cleanSteps());
            if (data != null) {
                stateJson.put("data", data.toJson());
            }
            stateJson.put("info", info);
            Files.write(temporary.resolve(STATE), JSON.writeValueAsBytes(stateJson));
            Files.writeString(temporary.resolve(CONFIG), configYaml);
            Files.copy(artifactFile, temporary.resolve(artifact));

            Map<String, Object> files = new LinkedHashMap<>();
            List<String> content = new ArrayList<>(CONTENT);
            content.add(artifact);
            for (String file : content) {
                fsync(temporary.resolve(file));
                files.put(file, Map.of("sha256", sha256(temporary.resolve(file)),
                        "bytes", Files.size(temporary.resolve(file))));
            }
            Map<String, Object> manifest = new LinkedHashMap<>();
            manifest.put("format", FORMAT);
            manifest.put("step", state.step());
            manifest.put("files", files);
            Files.write(temporary.resolve(MANIFEST), JSON.writeValueAsBytes(manifest));
            fsync(temporary.resolve(MANIFEST));
            fsync(temporary);

            Path target = directory.resolve(name);
            Path previous = null;
            if (Files.exists(target)) {
                previous = hiddenSibling(name, ".old-");
                move(target, previous);
            }
            move(temporary, target);
            fsync(directory);
            if (previous != null) {
                deleteTree(previous);
            }
            prune();
            return target;
        } catch (IOException e) {
            if (temporary != null && Files.exists(temporary)) {
                try {
                    deleteTree(temporary);
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed); // the next store's first write removes it
                }
            }
            throw new UncheckedIOException("cannot write a checkpoint in " + directory + ": " + e.getMessage(), e);
        }
    }

    /** A fresh hidden name in the checkpoints folder, e.g. {@code .step-00000004.tmp-5550123}. */
    private Path hiddenSibling(String name, String kind) {
        Path path;
        do {
            path = directory.resolve("." + name + kind + Long.toUnsignedString(System.nanoTime(), 36));
        } while (Files.exists(path));
        return path;
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    /** Deletes hidden directories an interrupted write left: temporaries, and old copies renamed aside. */
    private void removeLeftovers() throws IOException {
        try (Stream<Path> entries = Files.list(directory)) {
            for (Path leftover : entries.filter(p -> LEFTOVER.matcher(p.getFileName().toString()).matches()
                    && Files.isDirectory(p)).toList()) {
                deleteTree(leftover);
            }
        }
    }

    /** Checkpoint directories, newest first. */
    public List<Path> checkpoints() {
        if (!Files.isDirectory(directory)) {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(directory)) {
            return entries.filter(p -> NAME.matcher(p.getFileName().toString()).matches() && Files.isDirectory(p))
                    .sorted(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed())
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The newest checkpoint whose every file matches its manifest. Each invalid one skipped is reported to
     * {@code warnings} with its reason.
     *
     * @throws CheckpointException when there is none, naming every one tried
     */
    public Checkpoint latestValid(Consumer<String> warnings) {
        List<Path> all = checkpoints();
        if (all.isEmpty()) {
            throw new CheckpointException("no checkpoint in " + directory + " to resume from");
        }
        List<String> problems = new ArrayList<>();
        for (Path candidate : all) {
            try {
                Checkpoint checkpoint = loadVerified(candidate);
                if (!problems.isEmpty()) {
                    warnings.accept("resuming from " + candidate.getFileName() + " instead");
                }
                return checkpoint;
            } catch (CheckpointException e) {
                problems.add(e.getMessage());
                warnings.accept("checkpoint " + candidate.getFileName() + " is not usable: " + e.getMessage());
            }
        }
        throw new CheckpointException("no valid checkpoint in " + directory + " (" + String.join("; ", problems)
                + "); start a new run without --resume, or restore a checkpoint from a backup");
    }

    /**
     * Checks a checkpoint against its manifest; returns null when it is valid, else the reason. The manifest must
     * be one JSON object of format 1 whose {@code step} is the directory's, listing exactly the checkpoint's own
     * files (no other name, so a manifest cannot point outside its directory), each with a size and a lower-case
     * hex SHA-256 that the file matches. Never throws: whatever the bytes, the answer is a reason or null.
     */
    public static String verify(Path checkpoint) {
        JsonNode manifest;
        try {
            manifest = readJson(checkpoint.resolve(MANIFEST), MAX_MANIFEST_BYTES);
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            return "manifest.json is missing (an interrupted write?)";
        } catch (IOException | RuntimeException e) {
            return "manifest.json is unreadable: " + firstLine(e);
        }
        if (!manifest.isObject()) {
            return "manifest.json is not a JSON object";
        }
        if (!manifest.path("format").isIntegralNumber() || manifest.get("format").asLong() != FORMAT) {
            return "manifest.json has format " + manifest.path("format") + ", expected " + FORMAT;
        }
        long named = stepOf(checkpoint);
        if (!manifest.path("step").isIntegralNumber() || manifest.get("step").asLong() < 0
                || named >= 0 && manifest.get("step").asLong() != named) {
            return "manifest.json has step " + manifest.path("step") + (named >= 0 ? ", but the directory is step "
                    + named : ", expected a step ≥ 0");
        }
        JsonNode files = manifest.path("files");
        if (!files.isObject()) {
            return "manifest.json lists no files";
        }
        for (String required : CONTENT) {
            if (!files.has(required)) {
                return "manifest.json does not list " + required;
            }
        }
        if (artifactOf(files) == null) {
            return "manifest.json lists none, or more than one, of the artifacts " + ARTIFACTS;
        }
        for (Iterator<Map.Entry<String, JsonNode>> entries = files.fields(); entries.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = entries.next();
            String name = entry.getKey();
            if (!CONTENT.contains(name) && !ARTIFACTS.contains(name)) {
                return "manifest.json lists an unexpected file '" + printable(name) + "'";
            }
            JsonNode expected = entry.getValue();
            if (!expected.path("bytes").isIntegralNumber() || expected.get("bytes").asLong() < 0
                    || !expected.path("sha256").isTextual()
                    || !SHA256_HEX.matcher(expected.get("sha256").asText()).matches()) {
                return "manifest.json: the entry of " + name + " needs \"bytes\" (≥ 0) and \"sha256\" (64 "
                        + "lower-case hex digits)";
            }
            Path file = checkpoint.resolve(name);
            try {
                if (!Files.isRegularFile(file)) {
                    return name + " is missing";
                }
                long bytes = Files.size(file);
                if (bytes != expected.get("bytes").asLong()) {
                    return name + " has " + bytes + " bytes, the manifest says " + expected.get("bytes")
                            + " (truncated or appended to)";
                }
                if (!sha256(file).equals(expected.get("sha256").asText())) {
                    return name + " does not match its SHA-256 (corrupted)";
                }
            } catch (IOException e) {
                return name + " is unreadable: " + e.getMessage();
            }
        }
        return null;
    }

    /**
     * A checkpoint named by what a user types: a checkpoint directory ({@code step-…}), or a run directory or its
     * {@code checkpoints/} folder (then the newest valid checkpoint).
     */
    public static Checkpoint open(Path path, Consumer<String> warnings) {
        if (!Files.isDirectory(path)) {
            throw new CheckpointException("checkpoint not found: " + path);
        }
        return Files.exists(path.resolve(MANIFEST)) || stepOf(path) >= 0 ? load(path) : at(path).latestValid(warnings);
    }

    /**
     * Loads a checkpoint after verifying it. Beyond the checksums, the contents must agree: the array files'
     * headers and lengths, parameters and both moments of one size, and {@code state.json}'s step, optimizer steps,
     * loss scale and clean-step count in range and consistent with the manifest and {@code optimizer.bin} (a
     * writer's bug the checksums cannot see). Every problem is a {@link CheckpointException} naming the file.
     */
    public static Checkpoint load(Path checkpoint) {
        try {
            return loadVerified(checkpoint);
        } catch (CheckpointException e) {
            throw new CheckpointException("checkpoint " + checkpoint + ": " + e.getMessage());
        }
    }

    /** {@link #load}, its errors giving the reason alone (the caller names the checkpoint). */
    private static Checkpoint loadVerified(Path checkpoint) {
        String problem = verify(checkpoint);
        if (problem != null) {
            throw new CheckpointException(problem);
        }
        try {
            JsonNode state = readJson(checkpoint.resolve(STATE), MAX_STATE_BYTES);
            if (!state.isObject()) {
                throw new CheckpointException("state.json is not a JSON object");
            }
            long manifestStep = readJson(checkpoint.resolve(MANIFEST), MAX_MANIFEST_BYTES).get("step").asLong();
            long step = integral(state, "step", 0, Long.MAX_VALUE);
            if (step != manifestStep) {
                throw new CheckpointException("state.json has step " + step + ", the manifest " + manifestStep);
            }
            long stateOptimizerSteps = integral(state, "optimizer_steps", 0, Long.MAX_VALUE);
            double lossScale = state.path("loss_scale").asDouble(Double.NaN);
            if (!state.path("loss_scale").isNumber() || !(lossScale > 0) || Double.isInfinite(lossScale)) {
                throw new CheckpointException("state.json: loss_scale must be a finite number > 0, got "
                        + state.path("loss_scale"));
            }
            int cleanSteps = (int) integral(state, "clean_steps", 0, Integer.MAX_VALUE);
            List<float[]> params = new ArrayList<>();
            readFloats(checkpoint.resolve(PARAMS), params, 1);
            List<float[]> moments = new ArrayList<>();
            long optimizerSteps = readFloats(checkpoint.resolve(OPTIMIZER), moments, 2);
            if (optimizerSteps != stateOptimizerSteps) {
                throw new CheckpointException("optimizer.bin counts " + optimizerSteps + " optimizer steps, "
                        + "state.json " + stateOptimizerSteps);
            }
            if (moments.get(0).length != params.get(0).length || moments.get(1).length != params.get(0).length) {
                throw new CheckpointException("optimizer.bin holds moments of " + moments.get(0).length + " and "
                        + moments.get(1).length + " values for " + params.get(0).length + " parameters");
            }
            Trainer.State trainerState = new Trainer.State(step, params.get(0), moments.get(0), moments.get(1),
                    optimizerSteps, lossScale, cleanSteps);
            Map<String, Object> info = state.path("info").isObject()
                    ? JSON.convertValue(state.get("info"), new TypeReference<Map<String, Object>>() { }) : Map.of();
            return new Checkpoint(checkpoint, trainerState, Files.readString(checkpoint.resolve(CONFIG)),
                    checkpoint.resolve(artifactOf(readJson(checkpoint.resolve(MANIFEST), MAX_MANIFEST_BYTES)
                            .get("files"))), DataFingerprint.fromJson(JSON.convertValue(state.get("data"),
                    Object.class)), info);
        } catch (CheckpointException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new CheckpointException("unreadable: " + firstLine(e));
        }
    }

    /** The one artifact a manifest's files list, or null when it lists none or several. */
    private static String artifactOf(JsonNode files) {
        List<String> listed = ARTIFACTS.stream().filter(files::has).toList();
        return listed.size() == 1 ? listed.get(0) : null;
    }

    /** A JSON file of at most {@code maxBytes}, read whole; trailing content after the value is an error. */
    private static JsonNode readJson(Path file, long maxBytes) throws IOException {
        long size = Files.size(file);
        if (size > maxBytes) {
            throw new IOException(file.getFileName() + " has " + size + " bytes, more than the " + maxBytes
                    + " such a file may have");
        }
        JsonNode tree = READER.readTree(Files.readAllBytes(file));
        if (tree == null || tree.isMissingNode()) {
            throw new IOException(file.getFileName() + " is empty");
        }
        return tree;
    }

    /** {@code field} of {@code json}: an integral number in [min, max], else a CheckpointException naming it. */
    private static long integral(JsonNode json, String field, long min, long max) {
        JsonNode value = json.path(field);
        if (!value.isIntegralNumber() || !value.canConvertToLong() || value.asLong() < min || value.asLong() > max) {
            throw new CheckpointException("state.json: " + field + " must be an integer in [" + min + ", " + max
                    + "], got " + (value.isMissingNode() ? "nothing" : value.toString()));
        }
        return value.asLong();
    }

    private static String firstLine(Throwable e) {
        String message = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        return message.lines().findFirst().orElse("");
    }

    /** A name from a corrupt file, safe to print: at most 40 characters, controls as '?'. */
    private static String printable(String text) {
        StringBuilder out = new StringBuilder();
        text.codePoints().limit(40).forEach(c -> out.appendCodePoint(Character.isISOControl(c) ? '?' : c));
        return out.append(text.length() > 40 ? "…" : "").toString();
    }

    /** Keeps the newest {@code keep} valid checkpoints; invalid ones older than a kept one go too. */
    private void prune() throws IOException {
        int valid = 0;
        for (Path checkpoint : checkpoints()) {
            boolean usable = verify(checkpoint) == null;
            if (valid >= keep || (!usable && valid > 0)) {
                deleteTree(checkpoint);
            } else if (usable) {
                valid++;
            }
        }
    }

    /** Arrays of floats: magic, array count, a long tag, then each array's length and values, big-endian. */
    private static void writeFloats(Path file, List<float[]> arrays, long tag) throws IOException {
        try (OutputStream out = Files.newOutputStream(file);
             DataOutputStream data = new DataOutputStream(new java.io.BufferedOutputStream(out, 1 << 16))) {
            data.writeInt(MAGIC);
            data.writeInt(arrays.size());
            data.writeLong(tag);
            for (float[] array : arrays) {
                data.writeInt(array.length);
                for (float value : array) {
                    data.writeFloat(value);
                }
            }
        }
    }

    /**
     * Reads an array file written by {@link #writeFloats}: exactly {@code arrays} arrays, each no longer than what
     * is left of the file, and nothing after the last; returns the tag. A header that does not fit is a
     * {@link CheckpointException} before anything large is allocated.
     */
    private static long readFloats(Path file, List<float[]> into, int arrays) throws IOException {
        long left = Files.size(file);
        String name = file.getFileName().toString();
        try (InputStream in = Files.newInputStream(file);
             DataInputStream data = new DataInputStream(new java.io.BufferedInputStream(in, 1 << 16))) {
            if (left < 16 || data.readInt() != MAGIC) {
                throw new CheckpointException(name + " is not a ringformer array file");
            }
            int count = data.readInt();
            long tag = data.readLong();
            left -= 16;
            if (count != arrays) {
                throw new CheckpointException(name + " holds " + count + " arrays, expected " + arrays);
            }
            if (tag < 0) {
                throw new CheckpointException(name + " has a negative step count " + tag);
            }
            for (int a = 0; a < count; a++) {
                int length = left >= 4 ? data.readInt() : -1;
                left -= 4;
                if (length < 0 || 4L * length > left) {
                    throw new CheckpointException(name + ": array " + a + " claims " + length + " values, but "
                            + Math.max(0, left) + " bytes are left");
                }
                float[] array = new float[length];
                for (int i = 0; i < array.length; i++) {
                    array[i] = data.readFloat();
                }
                left -= 4L * length;
                into.add(array);
            }
            if (left != 0) {
                throw new CheckpointException(name + " has " + left + " bytes after its last array");
            }
            return tag;
        }
    }

    public static String sha256(Path file) throws IOException {
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
            byte[] chunk = new byte[1 << 16];
            while (in.read(chunk) >= 0) {
                // reading feeds the digest
            }
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void fsync(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
                channel.force(true);
            } catch (IOException e) {
                // some file systems refuse to open directories; the files themselves are synced
            }
        } else {
            try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE)) {
                channel.force(true);
            }
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /** The step number a checkpoint directory is named after. */
    public static long stepOf(Path checkpoint) {
        Matcher m = NAME.matcher(checkpoint.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }
}

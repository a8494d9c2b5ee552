package io.ringformer.worker.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Checkpoints of one run, in {@code <run>/checkpoints/step-<8 digits>/}:
 * <pre>
 *   params.bin      fp32 master parameters          optimizer.bin  AdamW moments and step count
 *   state.json      step, loss scale, figures,      config.yaml    the effective config
 *                   the data file's fingerprint
 *   tokenizer.txt   the tokenizer                   manifest.json  SHA-256 and size of every file above
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
    public static final String TOKENIZER = "tokenizer.txt";
    public static final String MANIFEST = "manifest.json";

    private static final Pattern NAME = Pattern.compile("step-(\\d{8})");
    private static final Pattern LEFTOVER = Pattern.compile("\\.step-\\d{8}\\.(tmp|old)-.*");
    private static final int MAGIC = 0x52464350; // "RFCP"
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

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
    public Path write(Trainer.State state, String configYaml, Path tokenizerFile, Map<String, Object> info) {
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
            Files.copy(tokenizerFile, temporary.resolve(TOKENIZER));

            Map<String, Object> files = new LinkedHashMap<>();
            for (String file : List.of(PARAMS, OPTIMIZER, STATE, CONFIG, TOKENIZER)) {
                fsync(temporary.resolve(file));
                files.put(file, Map.of("sha256", sha256(temporary.resolve(file)),
                        "bytes", Files.size(temporary.resolve(file))));
            }
            Map<String, Object> manifest = new LinkedHashMap<>();
            manifest.put("format", 1);
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
                Checkpoint checkpoint = load(candidate);
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

    /** Checks a checkpoint against its manifest; returns null when it is valid, else the reason. */
    public static String verify(Path checkpoint) {
        Path manifestFile = checkpoint.resolve(MANIFEST);
        Map<?, ?> manifest;
        try {
            manifest = JSON.readValue(manifestFile.toFile(), Map.class);
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            return "manifest.json is missing (an interrupted write?)";
        } catch (IOException e) {
            return "manifest.json is unreadable: " + e.getMessage().lines().findFirst().orElse("");
        }
        if (!(manifest.get("files") instanceof Map<?, ?> files)) {
            return "manifest.json lists no files";
        }
        for (String required : List.of(PARAMS, OPTIMIZER, STATE, CONFIG, TOKENIZER)) {
            if (!files.containsKey(required)) {
                return "manifest.json does not list " + required;
            }
        }
        for (Map.Entry<?, ?> entry : files.entrySet()) {
            Path file = checkpoint.resolve(String.valueOf(entry.getKey()));
            Map<?, ?> expected = (Map<?, ?>) entry.getValue();
            try {
                long bytes = Files.size(file);
                if (bytes != ((Number) expected.get("bytes")).longValue()) {
                    return entry.getKey() + " has " + bytes + " bytes, the manifest says " + expected.get("bytes")
                            + " (truncated or appended to)";
                }
                if (!sha256(file).equals(expected.get("sha256"))) {
                    return entry.getKey() + " does not match its SHA-256 (corrupted)";
                }
            } catch (NoSuchFileException e) {
                return entry.getKey() + " is missing";
            } catch (IOException e) {
                return entry.getKey() + " is unreadable: " + e.getMessage();
            }
        }
        return null;
    }

    /** Loads a checkpoint after verifying it. */
    public static Checkpoint load(Path checkpoint) {
        String problem = verify(checkpoint);
        if (problem != null) {
            throw new CheckpointException(problem);
        }
        try {
            Map<?, ?> state = JSON.readValue(checkpoint.resolve(STATE).toFile(), Map.class);
            List<float[]> params = new ArrayList<>();
            readFloats(checkpoint.resolve(PARAMS), params);
            List<float[]> moments = new ArrayList<>();
            long optimizerSteps = readFloats(checkpoint.resolve(OPTIMIZER), moments);
            Trainer.State trainerState = new Trainer.State(((Number) state.get("step")).longValue(), params.get(0),
                    moments.get(0), moments.get(1), optimizerSteps, ((Number) state.get("loss_scale")).doubleValue(),
                    ((Number) state.get("clean_steps")).intValue());
            @SuppressWarnings("unchecked")
            Map<String, Object> info = state.get("info") instanceof Map<?, ?> m
                    ? (Map<String, Object>) m : Map.of();
            return new Checkpoint(checkpoint, trainerState, Files.readString(checkpoint.resolve(CONFIG)),
                    checkpoint.resolve(TOKENIZER), DataFingerprint.fromJson(state.get("data")), info);
        } catch (IOException | RuntimeException e) {
            throw new CheckpointException("cannot read " + checkpoint + ": " + e.getMessage());
        }
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

    private static long readFloats(Path file, List<float[]> into) throws IOException {
        try (InputStream in = Files.newInputStream(file);
             DataInputStream data = new DataInputStream(new java.io.BufferedInputStream(in, 1 << 16))) {
            if (data.readInt() != MAGIC) {
                throw new IOException(file.getFileName() + " is not a ringformer array file");
            }
            int count = data.readInt();
            long tag = data.readLong();
            for (int a = 0; a < count; a++) {
                float[] array = new float[data.readInt()];
                for (int i = 0; i < array.length; i++) {
                    array[i] = data.readFloat();
                }
                into.add(array);
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

package io.ringformer.zoo.text;

import io.ringformer.zoo.family.Artifact;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A character-level tokenizer, as nanoGPT's shakespeare_char: the vocabulary is the sorted set of distinct
 * characters of a training text, and a character's token id is its rank in that set.
 *
 * <p>A character is a Unicode code point, not a Java {@code char}: a character outside the Basic Multilingual
 * Plane (𝄞, an emoji) is one token, never two surrogate halves that a model could sample apart. Python's
 * {@code sorted(set(text))} orders by code point too, so the ids are the ones nanoGPT gives the same text.
 *
 * <p>File format ({@link #save}, {@link #load}), UTF-8 text, one item per line:
 * <pre>
 * ringformer-char-tokenizer 1
 * 10          the code point of token 0, in decimal
 * 32          the code point of token 1
 * ...         strictly increasing, one line per token
 * </pre>
 * Decimal code points need no escaping for newlines, spaces or invisible characters, and the file diffs well.
 */
public final class CharTokenizer implements Artifact {

    /** The file name a run and its checkpoints keep it under. */
    public static final String FILE = "tokenizer.txt";

    /** First line of a saved tokenizer: the format's name and version. */
    public static final String FORMAT_HEADER = "ringformer-char-tokenizer 1";
    private static final String FORMAT_NAME = "ringformer-char-tokenizer ";

    private final int[] codePoints; // ascending; index = token id

    private CharTokenizer(int[] codePoints) {
        this.codePoints = codePoints;
    }

    /** The tokenizer whose vocabulary is every distinct character of {@code text}. */
    public static CharTokenizer fit(String text) {
        if (text.isEmpty()) {
            throw new IllegalArgumentException("cannot fit a character tokenizer to an empty text");
        }
        return new CharTokenizer(text.codePoints().distinct().sorted().toArray());
    }

    @Override
    public String fileName() {
        return FILE;
    }

    @Override
    public int outputSize() {
        return vocabSize();
    }

    public int vocabSize() {
        return codePoints.length;
    }

    /** The vocabulary as one string in id order, as nanoGPT's {@code ''.join(chars)}. */
    public String vocabulary() {
        return new String(codePoints, 0, codePoints.length);
    }

    /** One token id per code point of {@code text}; a character outside the vocabulary is an error. */
    public int[] encode(String text) {
        int[] ids = new int[text.codePointCount(0, text.length())];
        for (int i = 0, index = 0; index < text.length(); i++) {
            int codePoint = text.codePointAt(index);
            int id = Arrays.binarySearch(codePoints, codePoint);
            if (id < 0) {
                throw new IllegalArgumentException("character " + describe(codePoint) + " at char index " + index
                        + " is not in this tokenizer's vocabulary of " + vocabSize() + " characters");
            }
            ids[i] = id;
            index += Character.charCount(codePoint);
        }
        return ids;
    }

    public String decode(int[] ids) {
        return decode(ids, 0, ids.length);
    }

    /** Decodes {@code ids[from, to)}. */
    public String decode(int[] ids, int from, int to) {
        Objects.checkFromToIndex(from, to, ids.length);
        StringBuilder text = new StringBuilder(to - from);
        for (int i = from; i < to; i++) {
            if (ids[i] < 0 || ids[i] >= codePoints.length) {
                throw new IllegalArgumentException("token id " + ids[i] + " at index " + i
                        + " is outside this tokenizer's vocabulary [0, " + vocabSize() + ")");
            }
            text.appendCodePoint(codePoints[ids[i]]);
        }
        return text.toString();
    }

    /** Writes the vocabulary in the format of the class comment, replacing {@code file}. */
    @Override
    public void save(Path file) throws IOException {
        StringBuilder out = new StringBuilder(FORMAT_HEADER).append('\n');
        for (int codePoint : codePoints) {
            out.append(codePoint).append('\n');
        }
        Files.writeString(file, out, StandardCharsets.UTF_8);
    }

    /**
     * Reads a tokenizer written by {@link #save}.
     *
     * @throws IOException if the file cannot be read or is not a valid tokenizer file; the message names the file
     *                     and, where there is one, the offending line
     */
    public static CharTokenizer load(Path file) throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new IOException(file + ": not UTF-8 text, so not a character tokenizer file", e);
        }
        if (lines.isEmpty()) {
            throw new IOException(file + ": empty file, expected a character tokenizer starting '"
                    + FORMAT_HEADER + "'");
        }
        String header = lines.get(0);
        if (!header.equals(FORMAT_HEADER)) {
            throw new IOException(file + ": " + (header.startsWith(FORMAT_NAME)
                    ? "unsupported version '" + header + "'; this build reads '" + FORMAT_HEADER + "'"
                    : "not a character tokenizer file: expected the first line '" + FORMAT_HEADER + "'"));
        }
        if (lines.size() == 1) {
            throw new IOException(file + ": the vocabulary is empty (no code point lines after the header)");
        }
        int[] codePoints = new int[lines.size() - 1];
        for (int id = 0; id < codePoints.length; id++) {
            codePoints[id] = parseCodePoint(file, id + 2, lines.get(id + 1));
            if (id > 0 && codePoints[id] <= codePoints[id - 1]) {
                throw new IOException(file + ": line " + (id + 2) + ": code point " + codePoints[id]
                        + " does not follow " + codePoints[id - 1] + "; code points must be strictly increasing");
            }
        }
        return new CharTokenizer(codePoints);
    }

    private static int parseCodePoint(Path file, int lineNumber, String line) throws IOException {
        try {
            int codePoint = Integer.parseInt(line.strip());
            if (Character.isValidCodePoint(codePoint)) {
                return codePoint;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IOException(file + ": line " + lineNumber + ": expected a Unicode code point in decimal, found '"
                + line + "'");
    }

    /** For error messages: {@code 'é' (U+00E9, code point 233)}; an invisible character by its Unicode name. */
    private static String describe(int codePoint) {
        String shown = Character.isISOControl(codePoint) || Character.isWhitespace(codePoint)
                ? Objects.requireNonNullElse(Character.getName(codePoint), "unnamed character")
                : "'" + Character.toString(codePoint) + "'";
        return String.format("%s (U+%04X, code point %d)", shown, codePoint, codePoint);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof CharTokenizer that && Arrays.equals(codePoints, that.codePoints);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(codePoints);
    }

    @Override
    public String toString() {
        return "CharTokenizer[vocabSize=" + vocabSize() + "]";
    }
}

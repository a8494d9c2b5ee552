package io.ringformer.zoo.text;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ringformer.zoo.family.Artifact;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A SentencePiece-style subword tokenizer (Kudo &amp; Richardson 2018) for T5: whitespace is part of the tokens, so
 * {@link #decode} gives the text back. Two kinds, both trained by us ({@link UnigramTrainer}, {@link BpeTrainer}):
 * {@link Kind#UNIGRAM} (SentencePiece's default and T5's) and {@link Kind#BPE}. It reads and writes the Hugging Face
 * {@code tokenizers} file {@code tokenizer.json}, and for any text {@link #encode} gives the ids that
 * {@code Tokenizer.from_file("tokenizer.json").encode(text, add_special_tokens=...)} gives.
 *
 * <p>Vocabulary layout (T5's): {@code <pad>} = 0, {@code </s>} = 1 (end of sequence), {@code <unk>} = 2, then the
 * learned pieces, then the sentinels {@code <extra_id_99>} … {@code <extra_id_0>} at the very end, so
 * {@code <extra_id_0>} has the highest id: {@link #sentinel}{@code (i) = vocabSize − 1 − i}. T5's span corruption
 * replaces the i-th dropped span with sentinel i.
 *
 * <p>Encoding, step by step (each step is the {@code tokenizers} component the file names):
 * <ol>
 *   <li>Special tokens. The literals {@code <pad>}, {@code </s>}, {@code <unk>} and {@code <extra_id_N>} in the raw
 *       text are cut out first and become their ids (the file's {@code added_tokens}, not normalized). The text
 *       between them is encoded piece by piece, each on its own (steps 2–4).</li>
 *   <li>Normalization ({@link #normalize}): Unicode NFKC (fullwidth letters, ligatures and the like fold into their
 *       plain forms; accents stay, composed), every run of whitespace becomes one space, and spaces at either end
 *       go. No lowercasing. In the file: {@code Sequence[NFKC, Replace(run of White_Space → " "), Strip]}.</li>
 *   <li>Pre-tokenization ({@code Metaspace}, replacement {@code ▁} U+2581, prepend scheme "always", split): every
 *       space becomes {@code ▁}, a {@code ▁} is put in front, and the text splits before each {@code ▁}:
 *       {@code "Call me"} → {@code ▁Call}, {@code ▁me}. Pieces never cross a word boundary.</li>
 *   <li>The model, word by word: Viterbi over the unigram pieces ({@link UnigramModel}) or the BPE merges
 *       ({@link BpeModel}). A character the vocabulary lacks is {@code <unk>} (no byte fallback: T5 has none, and
 *       256 byte tokens would buy little for English and Spanish); a run of such characters is one {@code <unk>}.</li>
 *   <li>{@code </s>} is appended when asked ({@link #encode(String, boolean)}); the file's post-processor
 *       ({@code TemplateProcessing "$A </s>"}) does the same in Hugging Face when {@code add_special_tokens} is on.
 *       T5 appends it to inputs and targets alike.</li>
 * </ol>
 *
 * <p>{@link #decode} is the {@code Metaspace} decoder: the tokens' text joined, {@code ▁} read as a space, the
 * first token's {@code ▁} dropped; {@code <pad>} and {@code </s>} are left out, other special tokens appear as their
 * literal text. So {@code decode(encode(x)) == normalize(x)} whenever no character of x is unknown and x holds no
 * {@code ▁} of its own (that one comes back as a space) and no special-token literal.
 */
public final class SentencePieceTokenizer implements Artifact {

    /** Its file name in a run directory and in every checkpoint of a family that uses it. */
    public static final String FILE = "tokenizer.json";

    public static final int PAD_ID = 0;
    public static final int EOS_ID = 1;
    public static final int UNK_ID = 2;
    /** The special tokens at ids 0–2, in id order (T5's). */
    public static final List<String> SPECIAL_TOKENS = List.of("<pad>", "</s>", "<unk>");
    /** T5's number of sentinels. */
    public static final int DEFAULT_SENTINELS = 100;
    public static final char METASPACE = '\u2581';
    /** Unicode's White_Space characters (Rust's {@code char::is_whitespace}), each a literal in the file's regex. */
    static final String WHITESPACE = " \t\n\u000B\f\r\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
            + "\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000";
    private static final String SENTINEL_PREFIX = "<extra_id_";

    /** The two models; the file's {@code model.type} is {@link #fileType}. */
    public enum Kind {
        UNIGRAM("Unigram"), BPE("BPE");

        final String fileType;

        Kind(String fileType) {
            this.fileType = fileType;
        }

        /** {@code unigram} or {@code bpe}, any case. */
        public static Kind parse(String name) {
            for (Kind kind : values()) {
                if (kind.name().equalsIgnoreCase(name)) {
                    return kind;
                }
            }
            throw new IllegalArgumentException("unknown SentencePiece kind '" + name + "'; the kinds are unigram "
                    + "and bpe");
        }

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Kind kind;
    private final String[] tokens;              // index = id
    private final double[] scores;              // unigram log-probabilities, index = id; null for BPE
    private final List<String[]> merges;        // BPE merges in rank order; empty for unigram
    private final int sentinels;
    private final Map<String, Integer> ids;
    private final UnigramModel unigram;
    private final BpeModel bpe;

    /**
     * The tokenizer over {@code tokens} (the full vocabulary in id order: specials, pieces, sentinels). For unigram,
     * {@code scores} has one log-probability per token; for BPE, {@code merges} lists the merges in rank order.
     */
    SentencePieceTokenizer(Kind kind, String[] tokens, double[] scores, List<String[]> merges, int sentinels) {
        this.kind = kind;
        this.tokens = tokens;
        this.scores = scores;
        this.merges = List.copyOf(merges);
        this.sentinels = sentinels;
        this.ids = new HashMap<>(tokens.length * 2);
        for (int id = 0; id < tokens.length; id++) {
            if (ids.put(tokens[id], id) != null) {
                throw new IllegalArgumentException("the token '" + tokens[id] + "' is in the vocabulary twice");
            }
        }
        for (int id = 0; id < SPECIAL_TOKENS.size(); id++) {
            if (id >= tokens.length || !tokens[id].equals(SPECIAL_TOKENS.get(id))) {
                throw new IllegalArgumentException("id " + id + " must be " + SPECIAL_TOKENS.get(id));
            }
        }
        for (int i = 0; i < sentinels; i++) {
            int id = tokens.length - 1 - i;
            if (id < SPECIAL_TOKENS.size() || !tokens[id].equals(sentinelToken(i))) {
                throw new IllegalArgumentException("id " + id + " must be " + sentinelToken(i));
            }
        }
        if (kind == Kind.UNIGRAM) {
            this.unigram = new UnigramModel(Arrays.asList(tokens), scores, UNK_ID);
            this.bpe = null;
        } else {
            this.unigram = null;
            this.bpe = new BpeModel(ids, this.merges, UNK_ID);
        }
    }

    /**
     * Trains a tokenizer of {@code kind} on {@code texts} (English and Spanish, say), with {@code vocabSize} tokens
     * in all: the 3 special tokens, the learned pieces and {@code sentinels} sentinels.
     *
     * @throws IllegalArgumentException if the texts have no words, or the size cannot hold the special tokens, the
     *                                  sentinels and every character of the texts
     */
    public static SentencePieceTokenizer train(Kind kind, List<String> texts, int vocabSize, int sentinels) {
        if (sentinels < 0) {
            throw new IllegalArgumentException("the number of sentinels must be 0 or more, not " + sentinels);
        }
        Map<String, Long> wordCounts = countWords(texts);
        long characters = wordCounts.keySet().stream().flatMapToInt(String::codePoints).distinct().count();
        long minimum = SPECIAL_TOKENS.size() + sentinels + characters;
        if (vocabSize < minimum) {
            throw new IllegalArgumentException("vocabulary size " + vocabSize + " is too small for this text: the "
                    + SPECIAL_TOKENS.size() + " special tokens, " + sentinels + " sentinels and its " + characters
                    + " distinct characters (▁ included) need at least " + minimum);
        }
        int pieces = vocabSize - SPECIAL_TOKENS.size() - sentinels;
        return kind == Kind.UNIGRAM ? new UnigramTrainer(wordCounts, pieces).train().tokenizer(sentinels)
                : new BpeTrainer(wordCounts, pieces).train().tokenizer(sentinels);
    }

    /** How often each word ({@link #words}) occurs in the texts; special-token literals are not counted. */
    static Map<String, Long> countWords(List<String> texts) {
        Map<String, Long> counts = new HashMap<>();
        for (String text : texts) {
            for (String line : text.split("\n")) {
                for (String segment : splitSpecials(line, Integer.MAX_VALUE)) {
                    if (!isSpecialLiteral(segment, Integer.MAX_VALUE)) {
                        for (String word : words(segment)) {
                            counts.merge(word, 1L, Long::sum);
                        }
                    }
                }
            }
        }
        if (counts.isEmpty()) {
            throw new IllegalArgumentException("cannot train a tokenizer on a text without words");
        }
        return counts;
    }

    /** The vocabulary with the specials first and {@code sentinels} sentinels last, around the learned pieces. */
    static String[] vocabulary(List<String> pieces, int sentinels) {
        List<String> all = new ArrayList<>(SPECIAL_TOKENS);
        all.addAll(pieces);
        for (int i = sentinels - 1; i >= 0; i--) {
            all.add(sentinelToken(i));
        }
        return all.toArray(String[]::new);
    }

    // ---- encoding and decoding ------------------------------------------------------------------------------

    /** The ids of {@code text}, without {@code </s>}. */
    public int[] encode(String text) {
        return encode(text, false);
    }

    /** The ids of {@code text}, with {@link #EOS_ID} appended when {@code appendEos} (see the class comment). */
    public int[] encode(String text, boolean appendEos) {
        int[] out = new int[16];
        int length = 0;
        for (String segment : splitSpecials(text, sentinels)) {
            int[] pieces;
            if (isSpecialLiteral(segment, sentinels)) {
                pieces = new int[] {ids.get(segment)};
            } else {
                pieces = encodeWords(words(segment));
            }
            if (length + pieces.length + 1 > out.length) {
                out = Arrays.copyOf(out, Math.max(out.length * 2, length + pieces.length + 1));
            }
            System.arraycopy(pieces, 0, out, length, pieces.length);
            length += pieces.length;
        }
        if (appendEos) {
            out[length++] = EOS_ID;
        }
        return Arrays.copyOf(out, length);
    }

    private int[] encodeWords(List<String> words) {
        int[] out = new int[words.size() * 2];
        int length = 0;
        for (String word : words) {
            int[] pieces = kind == Kind.UNIGRAM ? unigram.encode(word) : bpe.encode(word);
            if (length + pieces.length > out.length) {
                out = Arrays.copyOf(out, Math.max(out.length * 2, length + pieces.length));
            }
            System.arraycopy(pieces, 0, out, length, pieces.length);
            length += pieces.length;
        }
        return Arrays.copyOf(out, length);
    }

    /**
     * The text of {@code ids}: the {@code Metaspace} decoder over every token but {@code <pad>} and {@code </s>}.
     */
    public String decode(int[] ids) {
        StringBuilder text = new StringBuilder();
        boolean first = true;
        for (int id : ids) {
            if (id == PAD_ID || id == EOS_ID) {
                continue;
            }
            String token = token(id);
            for (int i = 0; i < token.length(); i++) {
                char c = token.charAt(i);
                if (c != METASPACE) {
                    text.append(c);
                } else if (!first) {
                    text.append(' ');
                }
            }
            first = false;
        }
        return text.toString();
    }

    /**
     * The normalization of step 2 of the class comment: NFKC, each run of whitespace one space, none at the ends.
     */
    public static String normalize(String text) {
        String folded = Normalizer.normalize(text, Normalizer.Form.NFKC);
        StringBuilder out = new StringBuilder(folded.length());
        boolean pendingSpace = false;
        for (int i = 0; i < folded.length(); i++) {
            char c = folded.charAt(i);
            if (WHITESPACE.indexOf(c) >= 0) {
                pendingSpace = true;
            } else {
                if (pendingSpace && out.length() > 0) {
                    out.append(' ');
                }
                pendingSpace = false;
                out.append(c);
            }
        }
        return out.toString();
    }

    /**
     * The words the model sees in {@code text} (text without special-token literals): normalized, with each space
     * made {@code ▁}, a {@code ▁} in front, split before every {@code ▁}. Empty when the text is only whitespace.
     */
    public static List<String> words(String text) {
        String normalized = normalize(text).replace(' ', METASPACE);
        List<String> words = new ArrayList<>();
        if (normalized.isEmpty()) {
            return words;
        }
        if (normalized.charAt(0) != METASPACE) {
            normalized = METASPACE + normalized;
        }
        int start = 0;
        for (int i = 1; i < normalized.length(); i++) {
            if (normalized.charAt(i) == METASPACE) {
                words.add(normalized.substring(start, i));
                start = i;
            }
        }
        words.add(normalized.substring(start));
        return words;
    }

    /**
     * Cuts {@code text} into special-token literals and the text between them (non-empty pieces only), the
     * leftmost literal first. No literal is a prefix of another (each ends at its only {@code >}), so leftmost is
     * also leftmost-longest, as Hugging Face matches them.
     */
    private static List<String> splitSpecials(String text, int sentinels) {
        List<String> segments = new ArrayList<>();
        int from = 0;
        for (int at = text.indexOf('<'); at >= 0; at = text.indexOf('<', at + 1)) {
            int length = specialLength(text, at, sentinels);
            if (length > 0) {
                if (at > from) {
                    segments.add(text.substring(from, at));
                }
                segments.add(text.substring(at, at + length));
                from = at + length;
                at = from - 1;
            }
        }
        if (from < text.length()) {
            segments.add(text.substring(from));
        }
        return segments;
    }

    /** The length of the special-token literal at {@code at}, or 0 if none starts there. */
    private static int specialLength(String text, int at, int sentinels) {
        for (String special : SPECIAL_TOKENS) {
            if (text.startsWith(special, at)) {
                return special.length();
            }
        }
        if (!text.startsWith(SENTINEL_PREFIX, at)) {
            return 0;
        }
        int close = text.indexOf('>', at + SENTINEL_PREFIX.length());
        if (close < 0) {
            return 0;
        }
        return isSpecialLiteral(text.substring(at, close + 1), sentinels) ? close + 1 - at : 0;
    }

    private static boolean isSpecialLiteral(String segment, int sentinels) {
        if (SPECIAL_TOKENS.contains(segment)) {
            return true;
        }
        if (!segment.startsWith(SENTINEL_PREFIX) || !segment.endsWith(">")) {
            return false;
        }
        String number = segment.substring(SENTINEL_PREFIX.length(), segment.length() - 1);
        if (number.isEmpty() || number.length() > 9 || !number.chars().allMatch(c -> c >= '0' && c <= '9')
                || number.length() > 1 && number.charAt(0) == '0') {
            return false;
        }
        return Integer.parseInt(number) < sentinels;
    }

    // ---- the vocabulary -------------------------------------------------------------------------------------

    public Kind kind() {
        return kind;
    }

    public int vocabSize() {
        return tokens.length;
    }

    /** How many sentinels the vocabulary ends with. */
    public int sentinelCount() {
        return sentinels;
    }

    /** The id of sentinel {@code i}, {@code <extra_id_i>}: {@code vocabSize − 1 − i}. */
    public int sentinel(int i) {
        if (i < 0 || i >= sentinels) {
            throw new IllegalArgumentException("sentinel " + i + " does not exist; this tokenizer has " + sentinels
                    + " (0 to " + (sentinels - 1) + ")");
        }
        return tokens.length - 1 - i;
    }

    /** Whether {@code id} is a sentinel. */
    public boolean isSentinel(int id) {
        return id >= tokens.length - sentinels && id < tokens.length;
    }

    static String sentinelToken(int i) {
        return SENTINEL_PREFIX + i + ">";
    }

    /** The id of {@code token}, or −1 if it is not in the vocabulary. */
    public int id(String token) {
        return ids.getOrDefault(token, -1);
    }

    public String token(int id) {
        if (id < 0 || id >= tokens.length) {
            throw new IllegalArgumentException("token id " + id + " is outside this tokenizer's vocabulary [0, "
                    + tokens.length + ")");
        }
        return tokens[id];
    }

    /** A unigram piece's log-probability (0 for the special tokens and sentinels). */
    public double score(int id) {
        if (kind != Kind.UNIGRAM) {
            throw new IllegalStateException("a BPE tokenizer has merges, not scores");
        }
        return scores[id];
    }

    /** The BPE merges in the order they were learned, each {left, right}; empty for unigram. */
    public List<String[]> merges() {
        return merges;
    }

    @Override
    public String fileName() {
        return FILE;
    }

    /** The vocabulary size: a model's output layer over these tokens. */
    @Override
    public int outputSize() {
        return vocabSize();
    }

    // ---- tokenizer.json -------------------------------------------------------------------------------------

    /**
     * Writes a Hugging Face {@code tokenizer.json} (format version 1.0), replacing {@code file}: the special tokens
     * and sentinels as {@code added_tokens}, the normalizer, {@code Metaspace} pre-tokenizer and decoder, the
     * {@code </s>}-appending post-processor, and the model ({@code Unigram} with {@code [piece, score]} pairs in
     * id order and {@code unk_id}, or {@code BPE} with the vocabulary and the merges in rank order).
     */
    @Override
    public void save(Path file) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int id = 0; id < tokens.length; id++) {
            if (id < SPECIAL_TOKENS.size() || isSentinel(id)) {
                added.addObject().put("id", id).put("content", tokens[id]).put("single_word", false)
                        .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
            }
        }
        root.setAll(pipeline());
        ObjectNode model = root.putObject("model").put("type", kind.fileType);
        if (kind == Kind.UNIGRAM) {
            model.put("unk_id", UNK_ID);
            ArrayNode vocab = model.putArray("vocab");
            for (int id = 0; id < tokens.length; id++) {
                vocab.addArray().add(tokens[id]).add(scores[id]);
            }
            model.put("byte_fallback", false);
        } else {
            model.putNull("dropout");
            model.put("unk_token", token(UNK_ID));
            model.putNull("continuing_subword_prefix");
            model.putNull("end_of_word_suffix");
            model.put("fuse_unk", true);
            model.put("byte_fallback", false);
            model.put("ignore_merges", false);
            ObjectNode vocab = model.putObject("vocab");
            for (int id = 0; id < tokens.length; id++) {
                vocab.put(tokens[id], id);
            }
            ArrayNode mergeList = model.putArray("merges");
            for (String[] merge : merges) {
                mergeList.addArray().add(merge[0]).add(merge[1]);
            }
        }
        Files.writeString(file, json.writeValueAsString(root) + "\n", StandardCharsets.UTF_8);
    }

    /**
     * The parts of the file around the model, the same for every tokenizer of this class: normalizer,
     * pre-tokenizer, post-processor (append {@code </s>}) and decoder.
     */
    private static ObjectNode pipeline() {
        ObjectNode parts = new ObjectMapper().createObjectNode();
        ObjectNode normalizer = parts.putObject("normalizer").put("type", "Sequence");
        ArrayNode steps = normalizer.putArray("normalizers");
        steps.addObject().put("type", "NFKC");
        ObjectNode replace = steps.addObject().put("type", "Replace");
        replace.putObject("pattern").put("Regex", "[" + WHITESPACE + "]+");
        replace.put("content", " ");
        steps.addObject().put("type", "Strip").put("strip_left", true).put("strip_right", true);
        metaspace(parts.putObject("pre_tokenizer"));
        ObjectNode post = parts.putObject("post_processor").put("type", "TemplateProcessing");
        String eos = SPECIAL_TOKENS.get(EOS_ID);
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        single.addObject().putObject("SpecialToken").put("id", eos).put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", eos).put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", eos).put("type_id", 0);
        ObjectNode eosEntry = post.putObject("special_tokens").putObject(eos).put("id", eos);
        eosEntry.putArray("ids").add(EOS_ID);
        eosEntry.putArray("tokens").add(eos);
        metaspace(parts.putObject("decoder"));
        return parts;
    }

    private static void metaspace(ObjectNode node) {
        node.put("type", "Metaspace").put("replacement", String.valueOf(METASPACE)).put("prepend_scheme", "always")
                .put("split", true);
    }

    /**
     * Reads a {@code tokenizer.json} written by {@link #save}. The normalizer, pre-tokenizer, post-processor and
     * decoder must be the ones {@link #save} writes (anything else would encode differently here than in Hugging
     * Face); the sentinels are the {@code <extra_id_N>} tokens the vocabulary ends with.
     *
     * @throws IOException              if the file cannot be read
     * @throws IllegalArgumentException if it is not such a file; the message names the file and what is wrong
     */
    public static SentencePieceTokenizer load(Path file) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(file + ": not UTF-8 text, so not a tokenizer.json", e);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: "
                    + e.getOriginalMessage().lines().findFirst().orElse(""), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + ": not a tokenizer.json: expected a JSON object");
        }
        ObjectNode expected = pipeline();
        for (String part : List.of("normalizer", "pre_tokenizer", "post_processor", "decoder")) {
            if (!expected.get(part).equals(root.path(part))) {
                throw new IllegalArgumentException(file + ": " + part + " is " + describe(root.path(part))
                        + "; this tokenizer reads only " + expected.get(part));
            }
        }
        JsonNode model = root.path("model");
        String type = model.path("type").asText("");
        Kind kind = Arrays.stream(Kind.values()).filter(k -> k.fileType.equals(type)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(file + ": model.type is " + describe(model.path("type"))
                        + "; this tokenizer reads only \"Unigram\" and \"BPE\""));
        String[] tokens;
        double[] scores = null;
        List<String[]> merges = new ArrayList<>();
        if (kind == Kind.UNIGRAM) {
            if (model.path("unk_id").asInt(-1) != UNK_ID || model.path("byte_fallback").asBoolean(false)) {
                throw new IllegalArgumentException(file + ": model.unk_id must be " + UNK_ID
                        + " and byte_fallback false");
            }
            JsonNode vocab = model.path("vocab");
            if (!vocab.isArray()) {
                throw new IllegalArgumentException(file + ": model.vocab: expected [[piece, score], ...], found "
                        + describe(vocab));
            }
            tokens = new String[vocab.size()];
            scores = new double[vocab.size()];
            for (int id = 0; id < tokens.length; id++) {
                JsonNode entry = vocab.get(id);
                if (!entry.isArray() || entry.size() != 2 || !entry.get(0).isTextual() || !entry.get(1).isNumber()) {
                    throw new IllegalArgumentException(file + ": model.vocab[" + id + "] is " + entry
                            + "; expected [piece, score]");
                }
                tokens[id] = entry.get(0).textValue();
                scores[id] = entry.get(1).doubleValue();
            }
        } else {
            if (!"<unk>".equals(model.path("unk_token").asText()) || !model.path("fuse_unk").asBoolean(false)
                    || model.path("byte_fallback").asBoolean(false) || model.path("ignore_merges").asBoolean(false)
                    || !model.path("continuing_subword_prefix").isNull()
                    || !model.path("end_of_word_suffix").isNull() || !model.path("dropout").isNull()) {
                throw new IllegalArgumentException(file + ": model: expected unk_token \"<unk>\", fuse_unk true and "
                        + "no byte fallback, merge skipping, subword prefix or suffix, or dropout");
            }
            JsonNode vocab = model.path("vocab");
            if (!vocab.isObject()) {
                throw new IllegalArgumentException(file + ": model.vocab: expected {token: id}, found "
                        + describe(vocab));
            }
            tokens = new String[vocab.size()];
            for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> entry = it.next();
                int id = entry.getValue().isIntegralNumber() ? entry.getValue().intValue() : -1;
                if (id < 0 || id >= tokens.length || tokens[id] != null) {
                    throw new IllegalArgumentException(file + ": model.vocab: the id of '" + entry.getKey() + "' is "
                            + entry.getValue() + "; ids must be the integers 0 to " + (tokens.length - 1)
                            + ", each once");
                }
                tokens[id] = entry.getKey();
            }
            for (JsonNode merge : model.path("merges")) {
                String[] parts = merge.isTextual() ? merge.textValue().split(" ", 2)
                        : new String[] {merge.path(0).asText(null), merge.path(1).asText(null)};
                if (parts.length != 2 || parts[0] == null || parts[1] == null) {
                    throw new IllegalArgumentException(file + ": model.merges: " + merge + " is not a pair");
                }
                merges.add(parts);
            }
        }
        int sentinels = 0;
        while (sentinels < tokens.length - SPECIAL_TOKENS.size()
                && sentinelToken(sentinels).equals(tokens[tokens.length - 1 - sentinels])) {
            sentinels++;
        }
        try {
            return new SentencePieceTokenizer(kind, tokens, scores, merges, sentinels);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": model.vocab: " + e.getMessage(), e);
        }
    }

    private static String describe(JsonNode node) {
        return node.isMissingNode() ? "missing" : node.toString();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof SentencePieceTokenizer that && kind == that.kind && sentinels == that.sentinels
                && Arrays.equals(tokens, that.tokens) && Arrays.equals(scores, that.scores)
                && merges.size() == that.merges.size()
                && java.util.stream.IntStream.range(0, merges.size())
                        .allMatch(i -> Arrays.equals(merges.get(i), that.merges.get(i)));
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(tokens);
    }

    @Override
    public String toString() {
        return "SentencePieceTokenizer[" + kind + ", vocabSize=" + vocabSize() + ", sentinels=" + sentinels + "]";
    }
}

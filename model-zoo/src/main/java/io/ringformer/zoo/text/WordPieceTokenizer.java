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
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A WordPiece tokenizer (Schuster &amp; Nakajima 2012; BERT, Devlin et al. 2018) that we train ourselves, and that
 * reads and writes the Hugging Face {@code tokenizers} file {@code tokenizer.json}: for any text, {@link #encode}
 * gives the ids that {@code Tokenizer.from_file("tokenizer.json").encode(text).ids} gives in Python.
 *
 * <p>Encoding, step by step (each step is the {@code tokenizers} component the file names):
 * <ol>
 *   <li>Special tokens. The literals {@code [PAD]} {@code [UNK]} {@code [CLS]} {@code [SEP]} {@code [MASK]} in the raw
 *       text are cut out first and become ids 0–4 (the file's {@code added_tokens}, not normalized).</li>
 *   <li>Normalization ({@code BertNormalizer}, every option on): drop NUL, U+FFFD and control, format, private-use,
 *       unassigned and surrogate code points except tab, newline and carriage return; turn every whitespace into a
 *       space; put spaces around CJK ideographs so each is a word; strip accents (NFD, then drop the non-spacing
 *       marks: {@code café} and {@code cafe} are one word, as in BERT-uncased); lowercase each code point.</li>
 *   <li>Pre-tokenization ({@code BertPreTokenizer}): split on whitespace, then make every punctuation character
 *       (ASCII punctuation and Unicode's P* categories) a word of its own. {@link #words} shows the result.</li>
 *   <li>WordPiece ({@code WordPiece} model), word by word, greedy longest match first: take the longest vocabulary
 *       token that starts the word, then the longest {@code ##}-prefixed token that continues it, and so on. A word
 *       of more than 100 code points, or one with a rest no token matches, is one {@code [UNK]} as a whole.</li>
 * </ol>
 * No {@code [CLS]}/{@code [SEP]} are added: the file's {@code post_processor} is null, so Hugging Face adds none
 * either, and a recipe frames its sequences itself with {@link #CLS_ID} and {@link #SEP_ID}.
 *
 * <p>Training ({@link #train}) runs steps 1–3 on the training text and counts the distinct words. The vocabulary
 * starts as the 5 special tokens, then every character that begins a word ({@code w}) and every character that
 * continues one ({@code ##h}), sorted. Each word is a sequence of those tokens. Then, until the vocabulary is full,
 * the adjacent pair seen most often
 * <pre>
 *   score(a, b) = count(a b)                                counted over the text (weighted by word frequency)
 * </pre>
 * is merged into one token ({@code ##h} + {@code ##a} → {@code ##ha}, {@code w} + {@code ##ha} → {@code wha}).
 * This is what Hugging Face's {@code WordPieceTrainer} does (it runs its BPE trainer with the {@code ##} prefix),
 * so a vocabulary from here and one from there are alike in kind. Ties go to the lower ids (left, then right).
 * A merge can rebuild a token made before by another split ({@code ##ab}+{@code ##c} and {@code ##a}+{@code ##bc});
 * it then adds no new entry. Counts are kept incrementally: a merge rewrites only the words holding the pair (each
 * pair knows its words) and updates the counts of their pairs. Picking the best pair scans the live pairs; there
 * are only a few thousand. Moby Dick (1.2 MB) to 4000 tokens takes about a second, most of it normalizing and
 * counting the words.
 *
 * <p>Why not the score of the WordPiece paper's description, count(a b) / (count(a) · count(b)), measured: it ranks
 * a pair by association alone, so a pair of rare tokens that always occur together beats any pair holding a
 * frequent token such as {@code ##e}. Trained on 90% of Moby Dick to 4000 tokens, that vocabulary spent its merges
 * on rare words letter by letter ({@code abs}, {@code abso}, … {@code absorbingly}) while {@code and} stayed
 * {@code a ##n ##d} and {@code the} was {@code th ##e}: 2.8 tokens per held-out word. The pair count gives about
 * 1.2 on the same text.
 *
 * <p>{@link #decode} joins tokens with spaces and glues each {@code ##} piece to the one before. It is the
 * {@code WordPiece} decoder without Hugging Face's "cleanup" (which turns {@code " ."} into {@code "."} and
 * {@code "do not"} into {@code "don't"}), so the words come back exactly as {@link #words} gives them.
 *
 * <p>Character classes (whitespace, control, punctuation, accents) come from Java's Unicode tables; the Rust
 * crates behind {@code tokenizers} use their own, possibly older, Unicode version, so a character assigned only
 * recently may be classified differently there.
 */
public final class WordPieceTokenizer implements Artifact {

    /** Its file name in a run directory and in every checkpoint of a family that uses it. */
    public static final String FILE = "tokenizer.json";

    public static final int PAD_ID = 0;
    public static final int UNK_ID = 1;
    public static final int CLS_ID = 2;
    public static final int SEP_ID = 3;
    public static final int MASK_ID = 4;
    /** The special tokens, at ids 0–4, in id order. */
    public static final List<String> SPECIAL_TOKENS = List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]");
    public static final String CONTINUATION_PREFIX = "##";
    /** A longer word is one {@code [UNK]}. */
    public static final int MAX_INPUT_CHARS_PER_WORD = 100;

    private final String[] tokens;               // index = id
    private final Map<String, Integer> ids;
    private final int longestToken;              // in code points, without the ## prefix: bounds the match

    private WordPieceTokenizer(String[] tokens) {
        this.tokens = tokens;
        this.ids = new HashMap<>(tokens.length * 2);
        int longest = 1;
        for (int id = 0; id < tokens.length; id++) {
            ids.put(tokens[id], id);
            String piece = tokens[id].startsWith(CONTINUATION_PREFIX) ? tokens[id].substring(2) : tokens[id];
            longest = Math.max(longest, piece.codePointCount(0, piece.length()));
        }
        this.longestToken = longest;
    }

    // ---- training -------------------------------------------------------------------------------------------

    /**
     * Trains a vocabulary of {@code vocabSize} tokens on {@code text} (see the class comment). The vocabulary is
     * smaller when the text runs out of pairs to merge; {@link #vocabSize} tells.
     *
     * @throws IllegalArgumentException if the text has no words, or {@code vocabSize} cannot hold the special
     *                                  tokens and every character of the text
     */
    public static WordPieceTokenizer train(String text, int vocabSize) {
        Map<String, int[]> wordCounts = new HashMap<>();
        for (String word : words(text)) {
            if (!isSpecial(word) && word.codePointCount(0, word.length()) <= MAX_INPUT_CHARS_PER_WORD) {
                wordCounts.computeIfAbsent(word, w -> new int[1])[0]++;
            }
        }
        if (wordCounts.isEmpty()) {
            throw new IllegalArgumentException("cannot train a WordPiece tokenizer on a text without words");
        }
        return new Trainer(wordCounts, vocabSize).run();
    }

    /** The merge loop of {@link #train}: words as token-id sequences, and pair counts. */
    private static final class Trainer {
        private final List<String> vocab = new ArrayList<>(SPECIAL_TOKENS);
        private final Map<String, Integer> ids = new HashMap<>();
        private final int vocabSize;
        private final int[][] words;             // each distinct word as token ids; a merge shortens it
        private final int[] wordLength;
        private final int[] wordCount;           // occurrences in the text
        private final Map<Long, Pair> pairs = new HashMap<>();
        private final List<Pair> livePairs = new ArrayList<>();

        /** An adjacent pair of tokens, its count over the text and (a superset of) the words holding it. */
        private static final class Pair {
            final int left;
            final int right;
            long count;
            final Set<Integer> words = new HashSet<>();

            Pair(int left, int right) {
                this.left = left;
                this.right = right;
            }
        }

        Trainer(Map<String, int[]> wordCounts, int vocabSize) {
            this.vocabSize = vocabSize;
            TreeSet<String> alphabet = new TreeSet<>();
            List<String> distinct = new ArrayList<>(wordCounts.keySet());
            distinct.sort(null);                 // a HashMap's order must not reach the tie-breaks
            for (String word : distinct) {
                alphabet.add(Character.toString(word.codePointAt(0)));
                word.codePoints().skip(1).forEach(c -> alphabet.add(CONTINUATION_PREFIX + Character.toString(c)));
            }
            if (SPECIAL_TOKENS.size() + alphabet.size() > vocabSize) {
                throw new IllegalArgumentException("vocabulary size " + vocabSize + " is too small for this text: "
                        + "the " + SPECIAL_TOKENS.size() + " special tokens and the " + alphabet.size()
                        + " word-initial and ##-continuation characters need at least "
                        + (SPECIAL_TOKENS.size() + alphabet.size()));
            }
            for (int id = 0; id < vocab.size(); id++) {
                ids.put(vocab.get(id), id);
            }
            alphabet.forEach(this::addToken);
            words = new int[distinct.size()][];
            wordLength = new int[distinct.size()];
            wordCount = new int[distinct.size()];
            for (int w = 0; w < words.length; w++) {
                String word = distinct.get(w);
                int[] symbols = new int[word.codePointCount(0, word.length())];
                for (int i = 0, at = 0; at < word.length(); i++) {
                    String c = Character.toString(word.codePointAt(at));
                    symbols[i] = ids.get(i == 0 ? c : CONTINUATION_PREFIX + c);
                    at += c.length();
                }
                words[w] = symbols;
                wordLength[w] = symbols.length;
                wordCount[w] = wordCounts.get(word)[0];
                countPairs(w, +1);
            }
        }

        WordPieceTokenizer run() {
            while (vocab.size() < vocabSize) {
                Pair best = bestPair();
                if (best == null) {
                    break;                       // every word is one token
                }
                merge(best);
            }
            return new WordPieceTokenizer(vocab.toArray(String[]::new));
        }

        /** The live pair seen most often; drops pairs whose count fell to 0 on the way. */
        private Pair bestPair() {
            Pair best = null;
            int kept = 0;
            for (int i = 0; i < livePairs.size(); i++) {
                Pair pair = livePairs.get(i);
                if (pair.count == 0) {
                    pairs.remove(key(pair.left, pair.right));
                    continue;
                }
                livePairs.set(kept++, pair);
                if (best == null || pair.count > best.count || pair.count == best.count
                        && (pair.left < best.left || pair.left == best.left && pair.right < best.right)) {
                    best = pair;
                }
            }
            livePairs.subList(kept, livePairs.size()).clear();
            return best;
        }

        /** Replaces every (left, right) in the words holding it with the merged token. */
        private void merge(Pair pair) {
            String merged = vocab.get(pair.left) + vocab.get(pair.right).substring(CONTINUATION_PREFIX.length());
            Integer existing = ids.get(merged);
            int id = existing != null ? existing : addToken(merged);
            for (int w : pair.words.toArray(Integer[]::new)) {
                if (!PairMerge.holds(words[w], wordLength[w], pair.left, pair.right)) {
                    continue;                    // the pair left this word in an earlier merge
                }
                countPairs(w, -1);
                wordLength[w] = PairMerge.merge(words[w], wordLength[w], pair.left, pair.right, id);
                countPairs(w, +1);
            }
        }

        /** Adds (sign +1) or removes (−1) the pairs of word {@code w} to or from the pair counts. */
        private void countPairs(int w, int sign) {
            for (int i = 0; i + 1 < wordLength[w]; i++) {
                int left = words[w][i];
                int right = words[w][i + 1];
                Pair pair = pairs.get(key(left, right));
                if (pair == null) {
                    pair = new Pair(left, right);
                    pairs.put(key(left, right), pair);
                    livePairs.add(pair);
                }
                pair.count += (long) sign * wordCount[w];
                if (sign > 0) {
                    pair.words.add(w);
                }
            }
        }

        private int addToken(String token) {
            int id = vocab.size();
            vocab.add(token);
            ids.put(token, id);
            return id;
        }

        private static long key(int left, int right) {
            return (long) left << 32 | right;
        }
    }

    // ---- encoding -------------------------------------------------------------------------------------------

    /**
     * The words {@link #encode} sees in {@code text}: each special-token literal as it is, the rest normalized and
     * pre-tokenized (steps 1–3 of the class comment). A normalized word never holds {@code [}, so a word equal to a
     * special token always is one.
     */
    public static List<String> words(String text) {
        List<String> words = new ArrayList<>();
        int from = 0;
        for (int at = text.indexOf('['); at >= 0; at = text.indexOf('[', at + 1)) {
            for (String special : SPECIAL_TOKENS) {
                if (text.startsWith(special, at)) {
                    preTokenize(normalize(text.substring(from, at)), words);
                    words.add(special);
                    from = at + special.length();
                    at = from - 1;
                    break;
                }
            }
        }
        preTokenize(normalize(text.substring(from)), words);
        return words;
    }

    /** The token ids of {@code text}, without added special tokens (see the class comment). */
    public int[] encode(String text) {
        List<String> words = words(text);
        int[] out = new int[Math.max(16, words.size() * 2)];
        int length = 0;
        int[] pieces = new int[MAX_INPUT_CHARS_PER_WORD];
        for (String word : words) {
            int count = isSpecial(word) ? single(pieces, ids.get(word)) : wordPieces(word, pieces);
            if (length + count > out.length) {
                out = Arrays.copyOf(out, Math.max(out.length * 2, length + count));
            }
            System.arraycopy(pieces, 0, out, length, count);
            length += count;
        }
        return Arrays.copyOf(out, length);
    }

    private static int single(int[] pieces, int id) {
        pieces[0] = id;
        return 1;
    }

    /** Greedy longest match first; writes the ids of {@code word} to {@code pieces} and returns how many. */
    private int wordPieces(String word, int[] pieces) {
        int chars = word.codePointCount(0, word.length());
        if (chars > MAX_INPUT_CHARS_PER_WORD) {
            return single(pieces, UNK_ID);
        }
        int[] offsets = new int[chars + 1];      // char index of each code point, and the end
        for (int i = 0, at = 0; i < chars; i++) {
            offsets[i] = at;
            at += Character.charCount(word.codePointAt(at));
        }
        offsets[chars] = word.length();
        int count = 0;
        for (int start = 0; start < chars; ) {
            Integer id = null;
            int end = Math.min(chars, start + longestToken);
            for (; end > start; end--) {
                String piece = word.substring(offsets[start], offsets[end]);
                id = ids.get(start == 0 ? piece : CONTINUATION_PREFIX + piece);
                if (id != null) {
                    break;
                }
            }
            if (id == null) {
                return single(pieces, UNK_ID);  // no token continues the word: all of it is unknown
            }
            pieces[count++] = id;
            start = end;
        }
        return count;
    }

    /** Joins the tokens with spaces, gluing each {@code ##} piece (after the first) to the one before. */
    public String decode(int[] ids) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            String token = token(ids[i]);
            if (i == 0) {
                text.append(token);
            } else if (token.startsWith(CONTINUATION_PREFIX)) {
                text.append(token, CONTINUATION_PREFIX.length(), token.length());
            } else {
                text.append(' ').append(token);
            }
        }
        return text.toString();
    }

    public int vocabSize() {
        return tokens.length;
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

    private static boolean isSpecial(String word) {
        return word.startsWith("[") && SPECIAL_TOKENS.contains(word);
    }

    // ---- BertNormalizer and BertPreTokenizer ----------------------------------------------------------------

    static String normalize(String text) {
        StringBuilder cleaned = new StringBuilder(text.length());
        boolean ascii = true;
        for (int at = 0; at < text.length(); ) {
            int c = text.codePointAt(at);
            at += Character.charCount(c);
            if (c == 0 || c == 0xFFFD || isControl(c)) {
                continue;
            }
            if (isWhitespace(c)) {
                cleaned.append(' ');
            } else if (isCjkIdeograph(c)) {
                cleaned.append(' ').appendCodePoint(c).append(' ');
                ascii = false;
            } else {
                cleaned.appendCodePoint(c);
                ascii &= c < 0x80;
            }
        }
        if (ascii) {
            for (int i = 0; i < cleaned.length(); i++) {
                char c = cleaned.charAt(i);
                if (c >= 'A' && c <= 'Z') {
                    cleaned.setCharAt(i, (char) (c + ('a' - 'A')));
                }
            }
            return cleaned.toString();
        }
        String decomposed = Normalizer.normalize(cleaned, Normalizer.Form.NFD);
        StringBuilder out = new StringBuilder(decomposed.length());
        decomposed.codePoints()
                .filter(c -> Character.getType(c) != Character.NON_SPACING_MARK)
                .forEach(c -> out.append(lowercase(c)));
        return out.toString();
    }

    /** Rust's {@code char::to_lowercase}: the full mapping, with no context (no final sigma). */
    private static String lowercase(int c) {
        return c == 0x130 ? "i\u0307" : Character.toString(Character.toLowerCase(c));
    }

    private static void preTokenize(String normalized, List<String> words) {
        int wordStart = -1;
        for (int at = 0; at < normalized.length(); ) {
            int c = normalized.codePointAt(at);
            int next = at + Character.charCount(c);
            if (isWhitespace(c) || isPunctuation(c)) {
                if (wordStart >= 0) {
                    words.add(normalized.substring(wordStart, at));
                    wordStart = -1;
                }
                if (!isWhitespace(c)) {
                    words.add(normalized.substring(at, next));
                }
            } else if (wordStart < 0) {
                wordStart = at;
            }
            at = next;
        }
        if (wordStart >= 0) {
            words.add(normalized.substring(wordStart));
        }
    }

    /** Unicode's White_Space property (Rust's {@code char::is_whitespace}). */
    private static boolean isWhitespace(int c) {
        return c == ' ' || c >= '\t' && c <= '\r' || c == 0x85 || c == 0xA0 || c == 0x1680
                || c >= 0x2000 && c <= 0x200A || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
                || c == 0x3000;
    }

    /** Categories Cc, Cf, Cn, Co, Cs, except tab, newline and carriage return (counted as whitespace). */
    private static boolean isControl(int c) {
        if (c == '\t' || c == '\n' || c == '\r') {
            return false;
        }
        int type = Character.getType(c);
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.UNASSIGNED
                || type == Character.PRIVATE_USE || type == Character.SURROGATE;
    }

    /** The CJK Unified Ideographs blocks and their extensions, as BERT's {@code _is_chinese_char}. */
    private static boolean isCjkIdeograph(int c) {
        return c >= 0x4E00 && c <= 0x9FFF || c >= 0x3400 && c <= 0x4DBF || c >= 0x20000 && c <= 0x2A6DF
                || c >= 0x2A700 && c <= 0x2B73F || c >= 0x2B740 && c <= 0x2B81F || c >= 0x2B920 && c <= 0x2CEAF
                || c >= 0xF900 && c <= 0xFAFF || c >= 0x2F800 && c <= 0x2FA1F;
    }

    /** ASCII punctuation (symbols such as $ + &lt; = &gt; ^ ` | ~ included) and Unicode's P* categories. */
    private static boolean isPunctuation(int c) {
        if (c < 0x80) {
            return c >= '!' && c <= '/' || c >= ':' && c <= '@' || c >= '[' && c <= '`' || c >= '{' && c <= '~';
        }
        return switch (Character.getType(c)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                    Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION,
                    Character.FINAL_QUOTE_PUNCTUATION, Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    // ---- tokenizer.json -------------------------------------------------------------------------------------

    /**
     * Writes a Hugging Face {@code tokenizer.json} (format version 1.0), replacing {@code file}: the five special
     * tokens as {@code added_tokens}, {@code BertNormalizer} with every option on, {@code BertPreTokenizer}, no
     * post-processor, the {@code WordPiece} decoder and the {@code WordPiece} model with the vocabulary in id
     * order.
     */
    @Override
    public void save(Path file) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int id = 0; id < SPECIAL_TOKENS.size(); id++) {
            added.addObject().put("id", id).put("content", SPECIAL_TOKENS.get(id)).put("single_word", false)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
        }
        root.putObject("normalizer").put("type", "BertNormalizer").put("clean_text", true)
                .put("handle_chinese_chars", true).put("strip_accents", true).put("lowercase", true);
        root.putObject("pre_tokenizer").put("type", "BertPreTokenizer");
        root.putNull("post_processor");
        root.putObject("decoder").put("type", "WordPiece").put("prefix", CONTINUATION_PREFIX).put("cleanup", true);
        ObjectNode model = root.putObject("model").put("type", "WordPiece").put("unk_token", token(UNK_ID))
                .put("continuing_subword_prefix", CONTINUATION_PREFIX)
                .put("max_input_chars_per_word", MAX_INPUT_CHARS_PER_WORD);
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < tokens.length; id++) {
            vocab.put(tokens[id], id);
        }
        Files.writeString(file, json.writeValueAsString(root) + "\n", StandardCharsets.UTF_8);
    }

    /**
     * Reads a {@code tokenizer.json} that describes this tokenizer: one written by {@link #save}, or any with the
     * same pipeline (BERT-uncased's {@code strip_accents: null} included). The truncation, padding, post-processor
     * and decoder it names are ignored: {@link #encode} and {@link #decode} are fixed.
     *
     * @throws IOException              if the file cannot be read
     * @throws IllegalArgumentException if it is not such a file; the message names the file and what is wrong
     */
    public static WordPieceTokenizer load(Path file) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(file + ": not UTF-8 text, so not a tokenizer.json", e);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: "
                    + e.getOriginalMessage().lines().findFirst().orElse("") + " (line "
                    + (e.getLocation() == null ? "?" : e.getLocation().getLineNr()) + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + ": not a tokenizer.json: expected a JSON object");
        }
        FileCheck check = new FileCheck(file);
        check.expect(root, "", "version", "1.0");
        JsonNode normalizer = check.object(root, "normalizer");
        check.expect(normalizer, "normalizer.", "type", "BertNormalizer");
        for (String option : List.of("clean_text", "handle_chinese_chars", "lowercase")) {
            check.expect(normalizer, "normalizer.", option, true);
        }
        if (!normalizer.path("strip_accents").isNull()) { // null: as lowercase, which is true
            check.expect(normalizer, "normalizer.", "strip_accents", true);
        }
        check.expect(check.object(root, "pre_tokenizer"), "pre_tokenizer.", "type", "BertPreTokenizer");
        JsonNode model = check.object(root, "model");
        check.expect(model, "model.", "type", "WordPiece");
        check.expect(model, "model.", "unk_token", SPECIAL_TOKENS.get(UNK_ID));
        check.expect(model, "model.", "continuing_subword_prefix", CONTINUATION_PREFIX);
        check.expect(model, "model.", "max_input_chars_per_word", MAX_INPUT_CHARS_PER_WORD);
        JsonNode vocab = model.path("vocab");
        if (!vocab.isObject()) {
            throw check.problem("model.vocab: expected an object {token: id}, found " + FileCheck.describe(vocab));
        }
        String[] tokens = new String[vocab.size()];
        for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            JsonNode id = entry.getValue();
            if (!id.canConvertToInt() || !id.isIntegralNumber() || id.intValue() < 0 || id.intValue() >= tokens.length) {
                throw check.problem("model.vocab: the id of '" + entry.getKey() + "' is " + id + "; ids must be "
                        + "the integers 0 to " + (tokens.length - 1) + ", each once");
            }
            if (tokens[id.intValue()] != null) {
                throw check.problem("model.vocab: id " + id + " is given to both '" + tokens[id.intValue()]
                        + "' and '" + entry.getKey() + "'");
            }
            tokens[id.intValue()] = entry.getKey();
        }
        for (int id = 0; id < SPECIAL_TOKENS.size(); id++) {
            if (id >= tokens.length || !SPECIAL_TOKENS.get(id).equals(tokens[id])) {
                throw check.problem("model.vocab: id " + id + " must be " + SPECIAL_TOKENS.get(id) + ", found "
                        + (id < tokens.length ? "'" + tokens[id] + "'" : "nothing") + "; the special tokens are "
                        + SPECIAL_TOKENS + " at ids 0–4");
            }
        }
        JsonNode added = root.path("added_tokens");
        if (!added.isArray()) {
            throw check.problem("added_tokens: expected an array of the special tokens");
        }
        Map<String, Integer> addedIds = new LinkedHashMap<>();
        for (JsonNode token : added) {
            String content = token.path("content").asText();
            if (!SPECIAL_TOKENS.contains(content) || token.path("id").asInt(-1) != SPECIAL_TOKENS.indexOf(content)) {
                throw check.problem("added_tokens: " + token + " is not one of the special tokens " + SPECIAL_TOKENS
                        + " at its id; this tokenizer adds no other tokens");
            }
            addedIds.put(content, token.path("id").asInt());
        }
        if (addedIds.size() != SPECIAL_TOKENS.size()) {
            throw check.problem("added_tokens: expected all of " + SPECIAL_TOKENS + ", found " + addedIds.keySet());
        }
        return new WordPieceTokenizer(tokens);
    }

    /** Field checks for {@link #load}, each failure an IllegalArgumentException naming the file and the field. */
    private record FileCheck(Path file) {

        JsonNode object(JsonNode parent, String field) {
            JsonNode node = parent.path(field);
            if (!node.isObject()) {
                throw problem(field + ": expected an object, found " + describe(node));
            }
            return node;
        }

        void expect(JsonNode parent, String prefix, String field, Object expected) {
            JsonNode node = parent.path(field);
            boolean ok = expected instanceof String s ? node.isTextual() && node.textValue().equals(s)
                    : expected instanceof Boolean b ? node.isBoolean() && node.booleanValue() == b
                    : node.isIntegralNumber() && node.longValue() == ((Integer) expected);
            if (!ok) {
                throw problem(prefix + field + " is " + describe(node) + "; this tokenizer reads only " + field + " "
                        + (expected instanceof String ? "\"" + expected + "\"" : expected));
            }
        }

        IllegalArgumentException problem(String what) {
            return new IllegalArgumentException(file + ": " + what);
        }

        static String describe(JsonNode node) {
            return node.isMissingNode() ? "missing" : node.toString();
        }
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof WordPieceTokenizer that && Arrays.equals(tokens, that.tokens);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(tokens);
    }

    @Override
    public String toString() {
        return "WordPieceTokenizer[vocabSize=" + vocabSize() + "]";
    }
}

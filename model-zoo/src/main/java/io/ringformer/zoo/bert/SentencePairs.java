package io.ringformer.zoo.bert;

import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.DataSource;
import io.ringformer.zoo.family.Split;
import io.ringformer.zoo.text.WordPieceTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * BERT's pre-training data (Devlin et al. 2018, §3.1 and appendix A.1) from one text: pairs of sentences for next
 * sentence prediction, with 15% of their tokens masked for the masked language model.
 *
 * <p><b>Sentences.</b> The text is cut at every {@code .}, {@code !} or {@code ?} that whitespace follows (the
 * mark stays with its sentence) and at every blank line (a paragraph or a heading ends there), whitespace runs are
 * folded into one space, and every piece is encoded with the WordPiece tokenizer; pieces with no tokens are
 * dropped. The rule is simple on purpose: {@code Mr. Starbuck} is cut after {@code Mr.}, and a sentence ending in
 * {@code ."} runs on into the next — noise BERT can live with. The first ⌊n · {@code data.train_fraction}⌋
 * sentences are the train split, the rest the held-out split; the whole text is one document, so the sentence after
 * a chapter's last is the next chapter's heading.
 *
 * <p><b>A row</b> of the batch of a step is a pure function of (seed, step, split, row): its draws come, in a fixed
 * order, from SplitMix64 seeded with a hash of those four, which is a counter-based hash of (seed, step, split, row,
 * draw) — so any row can be computed alone, by any rank, at any world size, after any resume. A row:
 * <ol>
 *   <li>sentence A at a uniform index i of the split (not its last sentence);</li>
 *   <li>with probability ½ sentence B is sentence i + 1 ({@value #IS_NEXT}, IsNext), else a uniform sentence other
 *       than i + 1 ({@value #NOT_NEXT}, NotNext);</li>
 *   <li>{@code [CLS] A [SEP] B [SEP]}, the longer of A and B shortened by its last token until all fits in
 *       {@code model.seq_len} (BERT's {@code truncate_seq_pair}), then {@code [PAD]} to the end. Segment 0 is
 *       {@code [CLS] A [SEP]}, segment 1 is {@code B [SEP]} (pads: 0); the padding mask is 1 on real tokens;</li>
 *   <li>of the n real tokens that are not special (A's and B's), max(1, round(p · n)) are chosen uniformly
 *       (p = {@code data.mask_prob}; were A and B nothing but {@code [UNK]}, among those, so that every row has a
 *       target); each chosen token is replaced by {@code [MASK]} with probability 0.8, by a uniform non-special
 *       token with 0.1, and left as it is with 0.1; its original id is the MLM target (−1 elsewhere).</li>
 * </ol>
 *
 * <p><b>Loss weights.</b> BERT's MLM loss is the mean over the masked tokens of the global batch, while the trainer
 * averages per-row losses over rows (the {@link io.ringformer.zoo.family.Model} contract). So {@link #fill} writes
 * {@value Bert#MLM_WEIGHTS} = B / M at the chosen positions (B rows, M chosen tokens in the whole batch) and 0
 * elsewhere: the per-row MLM loss Σₜ weight · CE averages over rows to Σ CE / M, the token mean, however the rows
 * are split among ranks and micro-batches. The weights are the one thing a row cannot compute alone — they need M —
 * which costs nothing here, since every rank fills the whole global batch of a step anyway.
 */
public final class SentencePairs implements DataSource {

    public static final int IS_NEXT = 1;
    public static final int NOT_NEXT = 0;
    /** Ids below this are special ([PAD] [UNK] [CLS] [SEP] [MASK]): never chosen, never a random replacement. */
    static final int FIRST_ORDINARY_ID = WordPieceTokenizer.SPECIAL_TOKENS.size();

    private static final Pattern SENTENCE_END = Pattern.compile("(?<=[.!?])\\s+|\\n\\s*\\n");
    private static final Pattern WHITESPACE = Pattern.compile("\\s+");

    private final int[] tokens;        // every sentence's ids, one after another
    private final int[] starts;        // sentence s is tokens[starts[s], starts[s + 1])
    private final int trainSentences;
    private final int vocabSize;
    private final int seqLen;
    private final double maskProb;
    private final Path path;

    private SentencePairs(int[] tokens, int[] starts, int trainSentences, int vocabSize, int seqLen, double maskProb,
                          Path path) {
        this.tokens = tokens;
        this.starts = starts;
        this.trainSentences = trainSentences;
        this.vocabSize = vocabSize;
        this.seqLen = seqLen;
        this.maskProb = maskProb;
        this.path = path;
    }

    /** The text's sentences by the rule of the class comment, whitespace folded, empty ones dropped. */
    public static List<String> sentences(String text) {
        List<String> sentences = new ArrayList<>();
        for (String piece : SENTENCE_END.split(text)) {
            String sentence = WHITESPACE.matcher(piece).replaceAll(" ").trim();
            if (!sentence.isEmpty()) {
                sentences.add(sentence);
            }
        }
        return sentences;
    }

    /** The text of the train split's sentences, one a line: what a tokenizer is trained on. */
    public static String trainText(String text, double trainFraction) {
        List<String> sentences = sentences(text);
        return String.join("\n", sentences.subList(0, trainCount(sentences.size(), trainFraction)));
    }

    private static int trainCount(int sentences, double trainFraction) {
        return (int) (sentences * trainFraction);
    }

    /**
     * @param path          the text's file, for {@link #files} (the checkpoint's data fingerprint)
     * @param seqLen        tokens in a row, [CLS] and both [SEP] included; at least 5
     * @param maskProb      share of a row's ordinary tokens chosen for the MLM, in (0, 1)
     * @throws IllegalArgumentException when a split has fewer than 3 sentences with tokens
     */
    public static SentencePairs of(String text, WordPieceTokenizer tokenizer, double trainFraction, int seqLen,
                                   double maskProb, Path path) {
        if (seqLen < 5) {
            throw new IllegalArgumentException("seq_len " + seqLen + " cannot hold [CLS] A [SEP] B [SEP]: it needs 5");
        }
        if (!(maskProb > 0 && maskProb < 1)) {
            throw new IllegalArgumentException("mask_prob must be strictly between 0 and 1, got " + maskProb);
        }
        List<String> sentences = sentences(text);
        int train = trainCount(sentences.size(), trainFraction);
        int[] all = new int[Math.max(16, text.length() / 3)];
        int[] starts = new int[sentences.size() + 1];
        int count = 0;
        int kept = 0;
        int keptTrain = 0;
        for (int s = 0; s < sentences.size(); s++) {
            int[] ids = tokenizer.encode(sentences.get(s));
            if (ids.length == 0) {
                continue;
            }
            if (count + ids.length > all.length) {
                all = Arrays.copyOf(all, Math.max(2 * all.length, count + ids.length));
            }
            System.arraycopy(ids, 0, all, count, ids.length);
            starts[kept++] = count;
            count += ids.length;
            if (s < train) {
                keptTrain++;
            }
        }
        starts[kept] = count;
        SentencePairs pairs = new SentencePairs(Arrays.copyOf(all, count), Arrays.copyOf(starts, kept + 1),
                keptTrain, tokenizer.vocabSize(), seqLen, maskProb, path);
        for (Split split : Split.values()) {
            if (pairs.sentences(split) < 3) {
                throw new IllegalArgumentException("the " + split.name().toLowerCase() + " split of " + path
                        + " has " + pairs.sentences(split) + " sentences; sentence pairs need at least 3 (a longer "
                        + "text, or another data.train_fraction)");
            }
        }
        return pairs;
    }

    /** Sentences in {@code split}. */
    public int sentences(Split split) {
        return split == Split.TRAIN ? trainSentences : starts.length - 1 - trainSentences;
    }

    /** The ids of sentence {@code index} of {@code split}. */
    public int[] sentence(Split split, int index) {
        int s = (split == Split.TRAIN ? 0 : trainSentences) + index;
        return Arrays.copyOfRange(tokens, starts[s], starts[s + 1]);
    }

    public int seqLen() {
        return seqLen;
    }

    @Override
    public List<Batch.Field> layout() {
        return Bert.layout(seqLen);
    }

    @Override
    public void fill(long seed, long step, Batch into) {
        fill(Split.TRAIN, seed, step, into);
    }

    /** The batch of (seed, step) of {@code split}: every row, then the loss weights B / M (see the class comment). */
    public void fill(Split split, long seed, long step, Batch into) {
        for (int row = 0; row < into.rows(); row++) {
            fillRow(split, seed, step, row, into, row);
        }
        int[] targets = into.ints(Bert.MLM_TARGETS);
        float[] weights = into.floats(Bert.MLM_WEIGHTS);
        long chosen = Arrays.stream(targets).filter(t -> t >= 0).count();
        float weight = (float) ((double) into.rows() / chosen);
        for (int i = 0; i < targets.length; i++) {
            weights[i] = targets[i] >= 0 ? weight : 0f;
        }
        into.setFilled(into.rows());
    }

    /**
     * Writes row {@code row} of the batch of (seed, step) of {@code split} into row {@code at} of {@code into}: every
     * array but {@value Bert#MLM_WEIGHTS}, which {@link #fill} writes once the whole batch is known.
     */
    public void fillRow(Split split, long seed, long step, int row, Batch into, int at) {
        int n = sentences(split);
        int first = split == Split.TRAIN ? 0 : trainSentences;
        RowRandom random = new RowRandom(rowSeed(seed, step, split, row));
        int a = random.nextInt(n - 1);
        boolean isNext = random.nextInt(2) == 1;
        int b = isNext ? a + 1 : otherThan(random.nextInt(n - 1), a + 1);
        int aStart = starts[first + a];
        int bStart = starts[first + b];
        int aLength = starts[first + a + 1] - aStart;
        int bLength = starts[first + b + 1] - bStart;
        while (aLength + bLength > seqLen - 3) {      // truncate_seq_pair: the longer loses its last token
            if (aLength > bLength) {
                aLength--;
            } else {
                bLength--;
            }
        }

        int offset = at * seqLen;
        int[] ids = into.ints(Bert.TOKENS);
        int[] segments = into.ints(Bert.SEGMENTS);
        float[] mask = into.floats(Bert.MASK);
        int[] targets = into.ints(Bert.MLM_TARGETS);
        Arrays.fill(ids, offset, offset + seqLen, WordPieceTokenizer.PAD_ID);
        Arrays.fill(segments, offset, offset + seqLen, 0);
        Arrays.fill(mask, offset, offset + seqLen, 0f);
        Arrays.fill(targets, offset, offset + seqLen, -1);
        int t = offset;
        ids[t++] = WordPieceTokenizer.CLS_ID;
        System.arraycopy(tokens, aStart, ids, t, aLength);
        t += aLength;
        ids[t++] = WordPieceTokenizer.SEP_ID;
        int bFirst = t;
        System.arraycopy(tokens, bStart, ids, t, bLength);
        t += bLength;
        ids[t++] = WordPieceTokenizer.SEP_ID;
        Arrays.fill(segments, bFirst, t, 1);
        Arrays.fill(mask, offset, t, 1f);
        into.ints(Bert.NSP_LABEL)[at] = isNext ? IS_NEXT : NOT_NEXT;

        // The MLM: choose max(1, round(p·n)) of the n ordinary tokens by a partial Fisher–Yates shuffle.
        int[] candidates = new int[aLength + bLength];
        int chooseFrom = 0;
        for (int i = offset + 1; i < t; i++) {
            if (ids[i] >= FIRST_ORDINARY_ID) {
                candidates[chooseFrom++] = i;
            }
        }
        if (chooseFrom == 0) {                           // only [UNK]s: predict those, so every row has a target
            for (int i = offset + 1; i < t; i++) {
                if (ids[i] == WordPieceTokenizer.UNK_ID) {
                    candidates[chooseFrom++] = i;
                }
            }
        }
        int choose = Math.max(1, (int) Math.round(maskProb * chooseFrom));
        for (int k = 0; k < choose; k++) {
            int j = k + random.nextInt(chooseFrom - k);
            int position = candidates[j];
            candidates[j] = candidates[k];
            candidates[k] = position;
            targets[position] = ids[position];
            int kind = random.nextInt(10);               // 0–7 [MASK], 8 a random token, 9 unchanged
            if (kind < 8) {
                ids[position] = WordPieceTokenizer.MASK_ID;
            } else if (kind == 8) {
                ids[position] = FIRST_ORDINARY_ID + random.nextInt(vocabSize - FIRST_ORDINARY_ID);
            }
        }
    }

    /** Uniform over [0, n) without {@code skip}, from a uniform draw r in [0, n − 1). */
    private static int otherThan(int r, int skip) {
        return r < skip ? r : r + 1;
    }

    @Override
    public int evaluationBatches(Split split, int rows, int iterations) {
        return iterations;
    }

    /** Batch {@code index} of {@code split}, drawn as a training batch is (the trainer salts the seed). */
    @Override
    public void fillEvaluation(Split split, long seed, int index, Batch into) {
        fill(split, seed, index, into);
    }

    @Override
    public List<Path> files() {
        return List.of(path);
    }

    @Override
    public int itemsPerRow() {
        return seqLen;
    }

    /** (seed, step, split, row) through the SplitMix64 finaliser in turn, as TextDataset and ImageDataset do. */
    static long rowSeed(long seed, long step, Split split, long row) {
        long h = RowRandom.mix64(RowRandom.mix64(RowRandom.mix64(seed) + step) + split.ordinal());
        return RowRandom.mix64(h + row);
    }

    /**
     * SplitMix64 (Steele, Lea and Flood 2014), written out rather than taken from {@link java.util.SplittableRandom},
     * whose exact output the JDK does not promise: a run's batches must not change with the JDK that resumes it.
     */
    private static final class RowRandom {

        private long state;

        RowRandom(long seed) {
            this.state = seed;
        }

        static long mix64(long z) {
            z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
            z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
            return z ^ (z >>> 31);
        }

        /** Uniform in [0, bound), by rejection on 63 bits as java.util.Random. */
        int nextInt(int bound) {
            long u = mix64(state += 0x9e3779b97f4a7c15L) >>> 1;
            long r = u % bound;
            while (u - r + (bound - 1) < 0) {
                u = mix64(state += 0x9e3779b97f4a7c15L) >>> 1;
                r = u % bound;
            }
            return (int) r;
        }
    }
}

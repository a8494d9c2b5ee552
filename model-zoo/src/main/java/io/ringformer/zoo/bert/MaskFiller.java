package io.ringformer.zoo.bert;

import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.text.WordPieceTokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What a trained BERT guesses behind each {@code [MASK]} of a text: the text is encoded, framed as
 * {@code [CLS] text [SEP]} (one segment, padded to the model's length) and run through the encoder; at each
 * {@code [MASK]} (the positions the MLM head reads) its softmax ranks the vocabulary. Special tokens are left out
 * of the ranking (the model never learnt to predict them).
 */
public final class MaskFiller {

    /** One guess: a vocabulary token ({@code ##ing} continues a word) and its probability. */
    public record Guess(String token, double probability) {}

    private final Bert bert;
    private final WordPieceTokenizer tokenizer;

    public MaskFiller(Bert bert, WordPieceTokenizer tokenizer) {
        if (bert.config().vocabSize() != tokenizer.vocabSize()) {
            throw new IllegalArgumentException("the model has " + bert.config().vocabSize() + " tokens and the "
                    + "tokenizer " + tokenizer.vocabSize() + ": they do not belong together");
        }
        this.bert = bert;
        this.tokenizer = tokenizer;
    }

    /**
     * The {@code topK} likeliest tokens at each {@code [MASK]} of {@code text}, in text order, likeliest first.
     *
     * @throws IllegalArgumentException when the text has no {@code [MASK]}, or is longer than the model reads
     */
    public List<List<Guess>> fill(String text, int topK) {
        if (topK < 1) {
            throw new IllegalArgumentException("top-k must be at least 1, got " + topK);
        }
        int[] ids = tokenizer.encode(text);
        if (Arrays.stream(ids).noneMatch(id -> id == WordPieceTokenizer.MASK_ID)) {
            throw new IllegalArgumentException("the text has no [MASK] to fill, e.g. \"Call me [MASK].\"");
        }
        Batch batch = Bert.sentence(ids, bert.config().seqLen());
        int[] tokens = batch.ints(Bert.TOKENS);
        int[] targets = batch.ints(Bert.MLM_TARGETS);
        for (int t = 1; t <= ids.length; t++) {
            if (tokens[t] == WordPieceTokenizer.MASK_ID) {
                targets[t] = WordPieceTokenizer.MASK_ID;     // selects the position; the id itself is not used
            }
        }
        INDArray logits = bert.graph().output(bert.feed(batch, 0, 1), Bert.LOGITS).get(Bert.LOGITS); // [M, V]
        List<List<Guess>> guesses = new ArrayList<>();
        for (int m = 0; m < logits.rows(); m++) {
            guesses.add(top(logits.getRow(m).toDoubleVector(), topK));
        }
        return guesses;
    }

    /** Softmax in double precision over the ordinary tokens, then the k largest. */
    private List<Guess> top(double[] logits, int k) {
        int first = SentencePairs.FIRST_ORDINARY_ID;
        double max = Arrays.stream(logits, first, logits.length).max().orElseThrow();
        double sum = 0;
        for (int id = first; id < logits.length; id++) {
            sum += Math.exp(logits[id] - max);
        }
        double total = sum;
        return IntStream.range(first, logits.length).boxed()
                .sorted(Comparator.comparingDouble((Integer id) -> -logits[id]))
                .limit(k)
                .map(id -> new Guess(tokenizer.token(id), Math.exp(logits[id] - max) / total))
                .toList();
    }
}

package io.ringformer.zoo.t5;

import io.ringformer.zoo.family.Batch;
import java.util.Arrays;
import java.util.List;

/**
 * The arrays of an encoder–decoder batch, shared by span-corruption pre-training ({@link SpanCorruptionText}) and
 * translation ({@link TranslationPairs}); B rows, S encoder positions, T decoder positions:
 * <pre>
 *   encoder_tokens   int   [B, S]  the source ids, ending with EOS, then PAD (0)
 *   encoder_mask     float [B, S]  1 on the source's ids (EOS included), 0 on padding
 *   decoder_tokens   int   [B, T]  the target shifted right: PAD (0, T5's decoder_start_token_id), y₀ … y_{n−2},
 *                                  then PAD
 *   decoder_targets  int   [B, T]  the target y₀ … y_{n−1} (y_{n−1} = EOS), then −1: no loss there
 *   decoder_mask     float [B, T]  1 on the target's n positions, 0 on padding (the decoder's own causal mask
 *                                  is the model's)
 *   decoder_weights  float [B, T]  B / M on the target's positions, 0 on padding; M = target tokens in the batch
 * </pre>
 * The decoder's padding cannot be read off {@code decoder_tokens}, whose first id is PAD too: use
 * {@code decoder_mask}. With {@code decoder_weights}, the per-row loss Σₜ weight · CE averages over the B rows to the
 * mean over the M target tokens of the batch — T5's token-mean loss — however the rows are split among ranks and
 * micro-batches (the {@link io.ringformer.zoo.family.Model} contract averages per-row losses; BERT's
 * {@code mlm_weights} work the same way). In pre-training every row has the same T targets and the weights are 1 / T.
 */
public final class Seq2SeqBatch {

    /** T5's {@code <pad>}, also the decoder's start token. */
    public static final int PAD_ID = 0;
    /** T5's {@code </s>}. */
    public static final int EOS_ID = 1;
    /** T5's {@code <unk>}. */
    public static final int UNK_ID = 2;
    /** {@value #DECODER_TARGETS} at padding. */
    public static final int NO_TARGET = -1;

    public static final String ENCODER_TOKENS = "encoder_tokens";     // int [B, S]
    public static final String ENCODER_MASK = "encoder_mask";         // float [B, S]
    public static final String DECODER_TOKENS = "decoder_tokens";     // int [B, T]
    public static final String DECODER_TARGETS = "decoder_targets";   // int [B, T]
    public static final String DECODER_MASK = "decoder_mask";         // float [B, T]
    public static final String DECODER_WEIGHTS = "decoder_weights";   // float [B, T]

    private Seq2SeqBatch() {}

    /** The arrays of a batch with {@code encoderLength} (S) and {@code decoderLength} (T) positions a row. */
    public static List<Batch.Field> layout(int encoderLength, int decoderLength) {
        return List.of(Batch.Field.ints(ENCODER_TOKENS, encoderLength),
                Batch.Field.floats(ENCODER_MASK, encoderLength),
                Batch.Field.ints(DECODER_TOKENS, decoderLength),
                Batch.Field.ints(DECODER_TARGETS, decoderLength),
                Batch.Field.floats(DECODER_MASK, decoderLength),
                Batch.Field.floats(DECODER_WEIGHTS, decoderLength));
    }

    /**
     * {@code ids} cut to at most {@code length} ids with EOS last, as seqio's {@code append_eos_after_trim}: the
     * first length − 1 ids, then EOS.
     */
    public static int[] withEos(int[] ids, int length) {
        int kept = Math.min(ids.length, length - 1);
        int[] out = Arrays.copyOf(ids, kept + 1);
        out[kept] = EOS_ID;
        return out;
    }

    /**
     * Writes row {@code row}: {@code source} and {@code target} (each ending with EOS, within S and T) padded, and
     * the masks; every array but {@value #DECODER_WEIGHTS}, which {@link #writeWeights} writes for the whole batch.
     */
    static void writeRow(Batch into, int row, int[] source, int[] target) {
        int s = into.width(ENCODER_TOKENS);
        int t = into.width(DECODER_TOKENS);
        if (source.length > s || target.length > t) {
            throw new IllegalArgumentException("a row of " + source.length + " source and " + target.length
                    + " target ids does not fit in " + s + " and " + t);
        }
        int[] encoderTokens = into.ints(ENCODER_TOKENS);
        float[] encoderMask = into.floats(ENCODER_MASK);
        Arrays.fill(encoderTokens, row * s, (row + 1) * s, PAD_ID);
        Arrays.fill(encoderMask, row * s, (row + 1) * s, 0f);
        System.arraycopy(source, 0, encoderTokens, row * s, source.length);
        Arrays.fill(encoderMask, row * s, row * s + source.length, 1f);

        int[] decoderTokens = into.ints(DECODER_TOKENS);
        int[] decoderTargets = into.ints(DECODER_TARGETS);
        float[] decoderMask = into.floats(DECODER_MASK);
        Arrays.fill(decoderTokens, row * t, (row + 1) * t, PAD_ID);
        Arrays.fill(decoderTargets, row * t, (row + 1) * t, NO_TARGET);
        Arrays.fill(decoderMask, row * t, (row + 1) * t, 0f);
        System.arraycopy(target, 0, decoderTargets, row * t, target.length);
        System.arraycopy(target, 0, decoderTokens, row * t + 1, target.length - 1);    // shifted right after PAD
        Arrays.fill(decoderMask, row * t, row * t + target.length, 1f);
    }

    /** Zeroes row {@code row} (a short evaluation batch's unused rows): no ids, no mask, no target, no weight. */
    static void clearRow(Batch into, int row) {
        int s = into.width(ENCODER_TOKENS);
        int t = into.width(DECODER_TOKENS);
        Arrays.fill(into.ints(ENCODER_TOKENS), row * s, (row + 1) * s, PAD_ID);
        Arrays.fill(into.floats(ENCODER_MASK), row * s, (row + 1) * s, 0f);
        Arrays.fill(into.ints(DECODER_TOKENS), row * t, (row + 1) * t, PAD_ID);
        Arrays.fill(into.ints(DECODER_TARGETS), row * t, (row + 1) * t, NO_TARGET);
        Arrays.fill(into.floats(DECODER_MASK), row * t, (row + 1) * t, 0f);
        Arrays.fill(into.floats(DECODER_WEIGHTS), row * t, (row + 1) * t, 0f);
    }

    /** {@value #DECODER_WEIGHTS} = B / M on the target positions of the filled rows, 0 elsewhere. */
    static void writeWeights(Batch into) {
        int t = into.width(DECODER_TOKENS);
        float[] mask = into.floats(DECODER_MASK);
        float[] weights = into.floats(DECODER_WEIGHTS);
        int end = into.filled() * t;
        double targets = 0;
        for (int i = 0; i < end; i++) {
            targets += mask[i];
        }
        float weight = targets == 0 ? 0f : (float) (into.filled() / targets);
        for (int i = 0; i < weights.length; i++) {
            weights[i] = i < end ? weight * mask[i] : 0f;
        }
    }
}

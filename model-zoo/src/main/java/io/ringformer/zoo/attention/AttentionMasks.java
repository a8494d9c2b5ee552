package io.ringformer.zoo.attention;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Additive masks: 0 where attention is allowed, {@link #BLOCKED} where it is not. Adding them to the scores
 * before the softmax gives blocked keys a weight of exactly 0 in fp32 (exp(-1e9) underflows).
 */
public final class AttentionMasks {

    /** Added to a blocked score. Finite, so a row with every key blocked stays finite (uniform weights). */
    public static final double BLOCKED = -1e9;

    private AttentionMasks() {}

    /** [T, S]: query t sees keys s ≤ t + (S − T), i.e. the usual lower triangle when S = T. */
    public static float[][] causal(int queryLength, int keyLength) {
        float[][] mask = new float[queryLength][keyLength];
        int offset = keyLength - queryLength;
        for (int t = 0; t < queryLength; t++) {
            for (int s = Math.max(0, t + offset + 1); s < keyLength; s++) {
                mask[t][s] = (float) BLOCKED;
            }
        }
        return mask;
    }

    /** The causal mask as a graph constant, [T, T]. */
    public static SDVariable causal(SameDiff sd, String name, int length, DataType dataType) {
        return sd.constant(name, Nd4j.createFromArray(causal(length, length)).castTo(dataType));
    }

    /**
     * Turns a padding mask into an additive key bias.
     *
     * @param keep [B, S]: 1 for a real position, 0 for padding
     * @return [B, 1, 1, S], broadcastable over heads and queries
     */
    public static SDVariable padding(SameDiff sd, SDVariable keep, int keyLength) {
        SDVariable bias = keep.sub(1.0).mul(-BLOCKED);                             // [B, S]: 0 keep, -1e9 pad
        return sd.reshape(bias, -1, 1, 1, keyLength);                              // [B, 1, 1, S]
    }

    /** A [B, S] keep-mask from sequence lengths, for callers that hold lengths rather than masks. */
    public static INDArray keepFromLengths(int[] lengths, int keyLength, DataType dataType) {
        INDArray keep = Nd4j.zeros(dataType, lengths.length, keyLength);
        for (int b = 0; b < lengths.length; b++) {
            for (int s = 0; s < lengths[b]; s++) {
                keep.putScalar(b, s, 1.0);
            }
        }
        return keep;
    }
}

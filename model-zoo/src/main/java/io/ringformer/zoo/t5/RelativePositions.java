package io.ringformer.zoo.t5;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.factory.Nd4j;

/**
 * T5's relative position bias (Raffel et al. 2020, §2.1; Shaw et al. 2018): each head adds to the score of query i
 * and key j a learned scalar looked up by the bucket of the distance j − i. Half the buckets are exact distances
 * (0 … b/2 − 1), the other half grow logarithmically up to {@code maxDistance}, beyond which all share the last
 * bucket. Bidirectional (the encoder) splits the buckets between keys before and after the query; one-directional
 * (the decoder, causal) has only keys at or before it.
 */
public final class RelativePositions {

    private RelativePositions() {}

    /**
     * T5's {@code _relative_position_bucket}.
     *
     * @param relative the key's position minus the query's
     * @param buckets  the number of buckets b (even)
     * @return the bucket, in [0, b)
     */
    public static int bucket(int relative, boolean bidirectional, int buckets, int maxDistance) {
        int bucket = 0;
        int n = -relative;                                       // how far back the key is
        if (bidirectional) {
            buckets /= 2;
            if (n < 0) {
                bucket += buckets;                               // keys after the query: the upper half
            }
            n = Math.abs(n);
        } else {
            n = Math.max(n, 0);                                  // a causal decoder never sees keys after it
        }
        int exact = buckets / 2;
        if (n < exact) {
            return bucket + n;
        }
        // In float, as T5's TensorFlow and PyTorch code: log(n / exact) / log(maxDistance / exact) · (b − exact),
        // truncated; then capped at the last bucket.
        float scaled = (float) (Math.log((float) n / exact) / Math.log((float) maxDistance / exact))
                * (buckets - exact);
        return bucket + Math.min(exact + (int) scaled, buckets - 1);
    }

    /**
     * The bias on the scores for queries 0 … T−1 and keys 0 … S−1: the table's row of each pair's bucket, per head.
     *
     * @param table [buckets, H], learned
     * @return [1, H, T, S]
     */
    public static SDVariable bias(SameDiff sd, String name, SDVariable table, int queryLength, int keyLength,
                                  boolean bidirectional, int maxDistance) {
        int buckets = (int) table.getShape()[0];
        int heads = (int) table.getShape()[1];
        float[][] oneHot = new float[queryLength * keyLength][buckets];   // a lookup as a matmul (gather's backprop is broken)
        for (int i = 0; i < queryLength; i++) {
            for (int j = 0; j < keyLength; j++) {
                oneHot[i * keyLength + j][bucket(j - i, bidirectional, buckets, maxDistance)] = 1f;
            }
        }
        SDVariable lookup = sd.constant(name + "/relative_buckets",
                Nd4j.createFromArray(oneHot).castTo(table.dataType()));                 // [T·S, NB]
        SDVariable perPair = sd.mmul(lookup, table);                                    // [T·S, H]
        return sd.reshape(sd.permute(sd.reshape(perPair, queryLength, keyLength, heads), 2, 0, 1),
                1, heads, queryLength, keyLength);                                     // [1, H, T, S]
    }
}

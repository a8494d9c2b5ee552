package io.ringformer.zoo;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Matmuls in a compute type (fp32, bf16 or fp16) inside an fp32 graph, as autocast does: the operands are cast
 * down, the product is cast back up, and everything else (LayerNorm, softmax, the loss, the weights themselves)
 * stays fp32. The casts' backward passes bring the gradients back to fp32.
 */
public record MixedPrecision(DataType compute) {

    public static final MixedPrecision FP32 = new MixedPrecision(DataType.FLOAT);

    public MixedPrecision {
        if (compute != DataType.FLOAT && compute != DataType.BFLOAT16 && compute != DataType.HALF) {
            throw new IllegalArgumentException("compute type must be FLOAT, BFLOAT16 or HALF, got " + compute);
        }
    }

    /** fp32, bf16 or fp16 by their config names. */
    public static MixedPrecision parse(String name) {
        return switch (name.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "fp32", "float32" -> FP32;
            case "bf16", "bfloat16" -> new MixedPrecision(DataType.BFLOAT16);
            case "fp16", "float16", "half" -> new MixedPrecision(DataType.HALF);
            default -> throw new IllegalArgumentException("unknown precision '" + name + "'; use fp32, bf16 or fp16");
        };
    }

    public boolean isFullPrecision() {
        return compute == DataType.FLOAT;
    }

    /** x·w + b, [N, in]·[in, out] + [out]. */
    public SDVariable linear(SameDiff sd, String name, SDVariable x, SDVariable w, SDVariable b) {
        if (isFullPrecision() || x.dataType() != DataType.FLOAT) {
            return name == null ? sd.nn.linear(x, w, b) : sd.nn.linear(name, x, w, b);
        }
        SDVariable product = sd.nn.linear(x.castTo(compute), w.castTo(compute), b.castTo(compute));
        return name == null ? product.castTo(DataType.FLOAT) : product.castTo(name, DataType.FLOAT);
    }

    /** A (batched) matmul with optional transposes. */
    public SDVariable mmul(SameDiff sd, SDVariable a, SDVariable b, boolean transposeA, boolean transposeB) {
        if (isFullPrecision() || a.dataType() != DataType.FLOAT) {
            return sd.mmul(a, b, transposeA, transposeB, false);
        }
        return sd.mmul(a.castTo(compute), b.castTo(compute), transposeA, transposeB, false).castTo(DataType.FLOAT);
    }
}

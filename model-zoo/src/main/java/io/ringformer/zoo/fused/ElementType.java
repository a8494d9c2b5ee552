package io.ringformer.zoo.fused;

/** Element types of a {@link NativeBuffer}: IEEE fp32 and bfloat16 (the upper half of an fp32). */
public enum ElementType {
    /** IEEE 754 binary32. */
    F32(4),
    /** bfloat16: sign, 8 exponent bits, 7 mantissa bits — the upper 16 bits of an fp32. */
    BF16(2);

    /** Size of one element in bytes. */
    public final int bytes;

    ElementType(int bytes) {
        this.bytes = bytes;
    }
}

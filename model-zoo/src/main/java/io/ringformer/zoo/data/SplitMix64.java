package io.ringformer.zoo.data;

/**
 * SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014), written out rather
 * than taken from {@link java.util.SplittableRandom}, whose exact output the JDK does not promise: the batches of a
 * run must not change with the JDK that resumes it. Every data source draws its batches from it.
 */
public final class SplitMix64 {

    private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;
    private long state;

    public SplitMix64(long seed) {
        this.state = seed;
    }

    /** The finaliser: a 64-bit mix in which every input bit affects every output bit. */
    public static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    public long nextLong() {
        return mix64(state += GOLDEN_GAMMA);
    }

    /** Uniform in [0, bound): java.util.Random's rejection on 63 bits drops the last, incomplete run of bound. */
    public int nextInt(int bound) {
        long u = nextLong() >>> 1;
        long r = u % bound;
        while (u - r + (bound - 1) < 0) { // the run of bound values holding u overflows: draw again
            u = nextLong() >>> 1;
            r = u % bound;
        }
        return (int) r;
    }
}

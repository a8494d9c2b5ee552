package io.ringformer.zoo.t5;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.data.SplitMix64;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** T5's span corruption: the counts of its formulas, the order of sentinels, exact reconstruction, span statistics. */
class SpanCorruptionTest {

    static final int VOCAB = 1000;                 // <extra_id_0> = 999, <extra_id_99> = 900
    static final int EOS = 1;
    static final SpanCorruption CORRUPTION = SpanCorruption.t5(VOCAB, EOS);

    /** Ordinary ids 3…899: never a sentinel, EOS or pad. */
    static int[] tokens(int length, long seed) {
        SplitMix64 random = new SplitMix64(seed);
        int[] tokens = new int[length];
        for (int i = 0; i < length; i++) {
            tokens[i] = 3 + random.nextInt(VOCAB - SpanCorruption.SENTINELS - 3);
        }
        return tokens;
    }

    @Test
    void countsFollowTheFormulas() {
        assertEquals(77, CORRUPTION.noiseTokens(512));   // round(76.8)
        assertEquals(26, CORRUPTION.noiseSpans(512));    // round(25.67)
        assertEquals(2, CORRUPTION.noiseTokens(10));     // 10 · 0.15f = 1.5000001 rounds up
        assertEquals(1, CORRUPTION.noiseTokens(2));      // clamped to at least 1
        assertEquals(1, CORRUPTION.noiseSpans(5));       // round(1/3) = 0, raised to 1
        for (int length : new int[] {2, 3, 7, 20, 64, 141, 568}) {
            int noise = (int) Math.rint(length * 0.15f);
            noise = Math.min(Math.max(noise, 1), length - 1);
            int spans = Math.max(1, (int) Math.rint(noise / 3.0f));
            for (long seed = 0; seed < 200; seed++) {
                boolean[] mask = CORRUPTION.noiseMask(length, new SplitMix64(seed));
                assertEquals(length, mask.length);
                assertEquals(noise, count(mask), "noise tokens, length " + length + " seed " + seed);
                assertEquals(spans, spans(mask), "noise spans, length " + length + " seed " + seed);
                assertFalse(mask[0], "the first span is non-noise");
                assertTrue(mask[length - 1], "the last span is noise");
            }
        }
    }

    @Test
    void sentinelsAppearInOrderAndTheOriginalComesBack() {
        for (int length : new int[] {2, 5, 17, 141, 568}) {
            for (long seed = 0; seed < 300; seed++) {
                int[] tokens = tokens(length, seed * 31 + length);
                SpanCorruption.Corrupted corrupted = CORRUPTION.corrupt(tokens, seed);
                int[] inputs = corrupted.inputs();
                int[] targets = corrupted.targets();
                int spans = CORRUPTION.noiseSpans(length);
                int noise = CORRUPTION.noiseTokens(length);
                assertEquals(length - noise + spans + 1, inputs.length);
                assertEquals(noise + spans + 1, targets.length);
                assertEquals(EOS, inputs[inputs.length - 1]);
                assertEquals(EOS, targets[targets.length - 1]);
                assertEquals(999, targets[0], "targets start with <extra_id_0>");
                assertTrue(CORRUPTION.isSentinel(inputs[inputs.length - 2]), "inputs end with a sentinel, then EOS");
                assertEquals(range(spans), sentinelsOf(inputs));
                assertEquals(range(spans), sentinelsOf(targets));
                assertArrayEquals(tokens, reconstruct(inputs, targets), "length " + length + " seed " + seed);
            }
        }
    }

    @Test
    void aWrittenOutCorruption() {
        // 40 tokens: N = round(6.0000005) = 6 noise tokens in K = 2 spans. The layout restated from the mask, with a
        // counter of its own for each side's sentinels: kept spans and noise spans alternate, kept first.
        int[] tokens = new int[40];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = 10 + i;
        }
        assertEquals(6, CORRUPTION.noiseTokens(40));
        assertEquals(2, CORRUPTION.noiseSpans(40));
        for (long seed = 0; seed < 50; seed++) {
            boolean[] mask = CORRUPTION.noiseMask(tokens.length, new SplitMix64(seed));
            List<Integer> inputs = new ArrayList<>();
            List<Integer> targets = new ArrayList<>();
            int inputSentinel = 999;
            int targetSentinel = 999;
            for (int i = 0; i < tokens.length; i++) {
                boolean opensSpan = i == 0 || mask[i] != mask[i - 1];
                if (mask[i]) {
                    if (opensSpan) {
                        inputs.add(inputSentinel--);
                    }
                    targets.add(tokens[i]);
                } else {
                    if (opensSpan) {
                        targets.add(targetSentinel--);
                    }
                    inputs.add(tokens[i]);
                }
            }
            inputs.add(EOS);
            targets.add(EOS);
            SpanCorruption.Corrupted corrupted = CORRUPTION.corrupt(tokens, seed);
            assertEquals(inputs, boxed(corrupted.inputs()));
            assertEquals(targets, boxed(corrupted.targets()));
            assertEquals(997, inputSentinel, "two noise spans took sentinels 999 and 998");
            assertEquals(10, corrupted.inputs()[0], "the first token is always kept");
        }
    }

    @Test
    void meanSpanLengthIsAboutThreeAndSpansAreUniformCompositions() {
        long noise = 0;
        long spans = 0;
        int[] firstKeptLength = new int[200];
        for (long seed = 0; seed < 4000; seed++) {
            boolean[] mask = CORRUPTION.noiseMask(568, new SplitMix64(seed));
            noise += count(mask);
            spans += spans(mask);
            int kept = 0;
            while (!mask[kept]) {
                kept++;
            }
            firstKeptLength[Math.min(kept, 199)]++;
        }
        assertEquals(85.0 / 28, (double) noise / spans, 1e-9);    // 568 tokens: N = 85, K = 28 on every draw
        assertEquals(3.0, (double) noise / spans, 0.05);
        // 483 kept tokens in 28 spans: the first span's length has mean 483 / 28 ≈ 17.3 under a uniform composition.
        double mean = 0;
        for (int k = 0; k < firstKeptLength.length; k++) {
            mean += k * (double) firstKeptLength[k];
        }
        assertEquals(483.0 / 28, mean / 4000, 1.0);
        // A noise span of one token is the likeliest length: P = C(83,26) / C(84,27) = 27/84 ≈ 0.32 for each span.
        long ones = 0;
        long all = 0;
        for (long seed = 0; seed < 2000; seed++) {
            for (int length : spanLengths(CORRUPTION.noiseMask(568, new SplitMix64(seed)))) {
                ones += length == 1 ? 1 : 0;
                all++;
            }
        }
        assertEquals(27.0 / 84, (double) ones / all, 0.01);
    }

    @Test
    void segmentationIsAPartitionIntoNonEmptyParts() {
        SplitMix64 random = new SplitMix64(7);
        for (int trial = 0; trial < 500; trial++) {
            int items = 1 + random.nextInt(60);
            int segments = 1 + random.nextInt(items);
            int[] lengths = SpanCorruption.randomSegmentation(items, segments, random);
            assertEquals(segments, lengths.length);
            assertEquals(items, Arrays.stream(lengths).sum());
            assertTrue(Arrays.stream(lengths).allMatch(l -> l >= 1), Arrays.toString(lengths));
        }
    }

    @Test
    void aPureFunctionOfTheSeed() {
        int[] tokens = tokens(141, 5);
        SpanCorruption.Corrupted a = CORRUPTION.corrupt(tokens, 123);
        SpanCorruption.Corrupted b = CORRUPTION.corrupt(tokens.clone(), 123);
        assertArrayEquals(a.inputs(), b.inputs());
        assertArrayEquals(a.targets(), b.targets());
        assertNotEquals(Arrays.toString(a.inputs()), Arrays.toString(CORRUPTION.corrupt(tokens, 124).inputs()));
    }

    @Test
    void lengthsAsRandomSpansHelper() {
        // The t5 library's figures: 512 → 568 raw tokens and 114 targets (its c4_v220_span_corruption task).
        assertEquals(new SpanCorruption.Lengths(568, 114), SpanCorruption.lengthsFor(512, 0.15, 3.0));
        assertEquals(new SpanCorruption.Lengths(141, 29), SpanCorruption.lengthsFor(128, 0.15, 3.0));
        assertEquals(new SpanCorruption.Lengths(70, 14), SpanCorruption.lengthsFor(64, 0.15, 3.0));
        for (int inputs : new int[] {16, 64, 128, 256, 512}) {
            SpanCorruption.Lengths lengths = SpanCorruption.lengthsFor(inputs, 0.15, 3.0);
            SpanCorruption.Corrupted corrupted = CORRUPTION.corrupt(tokens(lengths.tokens(), inputs), inputs);
            assertEquals(inputs, corrupted.inputs().length, "inputs fill the encoder exactly");
            assertEquals(lengths.targets(), corrupted.targets().length);
            assertTrue(CORRUPTION.corrupt(tokens(lengths.tokens() + 1, 1), 1).inputs().length > inputs,
                    "one more raw token would not fit");
        }
    }

    @Test
    void refusesWhatItCannotDo() {
        assertThrows(IllegalArgumentException.class, () -> CORRUPTION.corrupt(new int[0], 1));
        assertThrows(IllegalArgumentException.class, () -> new SpanCorruption(0.15, 3, 999, 100, 950));
        SpanCorruption fewSentinels = new SpanCorruption(0.15, 3, 999, 3, EOS);
        assertThrows(IllegalArgumentException.class, () -> fewSentinels.corrupt(tokens(141, 1), 1));
    }

    /** The original from inputs and targets: each sentinel in the inputs stands for the tokens after it in the targets. */
    static int[] reconstruct(int[] inputs, int[] targets) {
        List<List<Integer>> spans = new ArrayList<>();
        for (int t = 0; t < targets.length - 1; t++) {
            if (CORRUPTION.isSentinel(targets[t])) {
                assertEquals(999 - spans.size(), targets[t]);
                spans.add(new ArrayList<>());
            } else {
                spans.get(spans.size() - 1).add(targets[t]);
            }
        }
        List<Integer> original = new ArrayList<>();
        for (int i = 0; i < inputs.length - 1; i++) {
            if (CORRUPTION.isSentinel(inputs[i])) {
                original.addAll(spans.get(999 - inputs[i]));
            } else {
                original.add(inputs[i]);
            }
        }
        return original.stream().mapToInt(Integer::intValue).toArray();
    }

    static List<Integer> sentinelsOf(int[] ids) {
        List<Integer> order = new ArrayList<>();
        for (int id : ids) {
            if (CORRUPTION.isSentinel(id)) {
                order.add(999 - id);
            }
        }
        return order;
    }

    static List<Integer> range(int n) {
        List<Integer> range = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            range.add(i);
        }
        return range;
    }

    static List<Integer> boxed(int[] ids) {
        return Arrays.stream(ids).boxed().toList();
    }

    static int count(boolean[] mask) {
        int n = 0;
        for (boolean b : mask) {
            n += b ? 1 : 0;
        }
        return n;
    }

    static int spans(boolean[] mask) {
        return spanLengths(mask).size();
    }

    static List<Integer> spanLengths(boolean[] mask) {
        List<Integer> lengths = new ArrayList<>();
        for (int i = 0; i < mask.length; i++) {
            if (mask[i] && (i == 0 || !mask[i - 1])) {
                lengths.add(0);
            }
            if (mask[i]) {
                lengths.set(lengths.size() - 1, lengths.get(lengths.size() - 1) + 1);
            }
        }
        return lengths;
    }
}

package io.ringformer.zoo.t5;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Which verses the translation recipe trains on, and which it holds out: whole books, never single verses. Verses of
 * one book share names, phrases and style, and many are repeated nearly word for word elsewhere in the same book
 * (Numbers 7's twelve offerings, the refrains of a psalm), so verses drawn at random from a book the model trained on
 * would measure recall more than translation.
 *
 * <p>The held-out books are small, mix both testaments and the kinds of text (narrative, poetry, prophecy,
 * letters), and add up to about 2% of the aligned verses each (the sizes over the aligned pairs of
 * {@link BibleVerses}: validation 591, test 668 of 30,787). Books go by their English SWORD names, as in the
 * {@code $$$} headers of the export.
 */
public enum BibleSplit {
    TRAIN,
    VALIDATION,
    TEST;

    /** Esther, Joel, Micah, Colossians, Titus, 1 Peter. */
    public static final Set<String> VALIDATION_BOOKS = Set.of(
            "Esther", "Joel", "Micah", "Colossians", "Titus", "I Peter");

    /** Ruth, Lamentations, Jonah, Habakkuk, Philippians, James, 1 John, Jude. */
    public static final Set<String> TEST_BOOKS = Set.of(
            "Ruth", "Lamentations", "Jonah", "Habakkuk", "Philippians", "James", "I John", "Jude");

    /** The split a book belongs to: everything not held out is trained on. */
    public static BibleSplit of(String book) {
        if (TEST_BOOKS.contains(book)) {
            return TEST;
        }
        return VALIDATION_BOOKS.contains(book) ? VALIDATION : TRAIN;
    }

    /** The pairs of this split, in their order in {@code pairs}. */
    public List<BibleVerses.Pair> of(List<BibleVerses.Pair> pairs) {
        List<BibleVerses.Pair> mine = new ArrayList<>();
        for (BibleVerses.Pair pair : pairs) {
            if (of(pair.key().book()) == this) {
                mine.add(pair);
            }
        }
        return mine;
    }
}

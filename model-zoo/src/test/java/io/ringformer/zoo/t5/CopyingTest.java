package io.ringformer.zoo.t5;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CopyingTest {

    static final BibleVerses.Key RUTH_1_2 = new BibleVerses.Key("Ruth", 1, 2);

    @Test
    void aNumberedPairStartsBothTextsWithChapterAndVerse() {
        BibleVerses.Pair pair = Copying.numbered(new BibleVerses.Pair(RUTH_1_2, "And the name", "Y el nombre"));
        assertEquals("1:2 And the name", pair.english());
        assertEquals("1:2 Y el nombre", pair.spanish());
        assertEquals(RUTH_1_2, pair.key());
    }

    @Test
    void aTranslationCopiesTheVerseNumberWhenItStartsWithTheSameOne() {
        assertTrue(Copying.copiesVerseNumber(RUTH_1_2, "1:2 Y el nombre"));
        assertTrue(Copying.copiesVerseNumber(RUTH_1_2, "1:2"));
        assertFalse(Copying.copiesVerseNumber(RUTH_1_2, "1:22 Y el nombre"));
        assertFalse(Copying.copiesVerseNumber(RUTH_1_2, "11:2 Y"));
        assertFalse(Copying.copiesVerseNumber(RUTH_1_2, "Y el nombre 1:2"));
        assertFalse(Copying.copiesVerseNumber(RUTH_1_2, ""));
        assertEquals("Y el nombre", Copying.withoutVerseNumber("1:22 Y el nombre"));
        assertEquals("Y el nombre", Copying.withoutVerseNumber("Y el nombre"));
        assertEquals("", Copying.withoutVerseNumber("3:4"));
    }

    /** Ruth 1:2 in both Bibles: Elimelech, Naomi, Mahlon, Chilion, Bethlehem-judah, Moab — which are spelled alike? */
    @Test
    void namesAreCapitalisedWordsSpelledAlikeInSourceAndReference() {
        String english = "And the name of the man was Elimelech, and the name of his wife Naomi, and the name of his "
                + "two sons Mahlon and Chilion, Ephrathites of Bethlehemjudah. And they came into the country of "
                + "Moab, and continued there.";
        String spanish = "El nombre de aquel varón era Elimelech, y el de su mujer Noemi; y los nombres de sus dos "
                + "hijos eran, Mahalón y Chelión, Ephrateos de Beth-lehem de Judá. Llegaron pues á los campos de "
                + "Moab, y asentaron allí.";
        Set<String> names = Copying.names(english, spanish);
        assertEquals(List.of("Elimelech", "Moab"), List.copyOf(names));            // "And" ≠ "El", Naomi ≠ Noemi
        assertEquals(1, Copying.copied(names, "Y el nombre de Moab, y los hijos de Moab"));
        assertEquals(0, Copying.copied(names, "Y el nombre de Moabitas"));             // whole words only
        assertEquals(Set.of(), Copying.names("I said", "Yo dije: I"));                 // one letter is no name
    }

    @Test
    void aTallyCountsNumbersAndNamesOverVerses() {
        Copying.Tally tally = Copying.Tally.of(List.of(RUTH_1_2, new BibleVerses.Key("Jonah", 1, 1)),
                List.of("Moab and David", "Now the word"), List.of("Moab y David", "Y fué palabra"),
                List.of("1:2 David", "1:2 Y la palabra"));
        assertEquals(new Copying.Tally(2, 1, 2, 1), tally);
    }
}

package io.ringformer.zoo.t5;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The SWORD exports: markup stripped, verses aligned, books split. Needs data/bible/ (launch/fetch-data.sh). */
class BibleVersesTest {

    static final List<BibleVerses.Pair> PAIRS = BibleVerses.read(projectRoot());

    /** The project's root: where data/bible/ is, from the module's directory or the root itself. */
    static Path projectRoot() {
        for (Path candidate : new Path[] {Path.of("."), Path.of("..")}) {
            if (Files.isRegularFile(candidate.resolve(BibleVerses.KJV_FILE))
                    && Files.isRegularFile(candidate.resolve(BibleVerses.SPARV_FILE))) {
                return candidate;
            }
        }
        return fail("data/bible/kjv.imp and data/bible/sparv.imp are missing: run launch/fetch-data.sh first (it "
                + "installs sword-text-kjv, sword-text-sparv and libsword-utils and exports them with mod2imp)");
    }

    @Test
    void markupGoesAndWordsStay() {
        String kjv = "<div type=\"x-milestone\" subType=\"x-preverse\" sID=\"pv1\"/>¶ And <w lemma=\"strong:H0430\">"
                + "God</w> <w lemma=\"strong:H7200\">saw</w> the <w lemma=\"strong:H0216\">light</w>, that "
                + "<transChange type=\"added\">it was</transChange> good: by my name \\nd JEHOVAH.<note placement="
                + "\"foot\"><reference type=\"annotateRef\">1.4 </reference>the light from…: Heb. between</note>  "
                + "<q marker=\"\" who=\"Jesus\">Follow me</q> &amp; <div eID=\"gen4\" type=\"x-p\"/>\n";
        assertEquals("And God saw the light, that it was good: by my name JEHOVAH. Follow me &",
                BibleVerses.plainText(kjv));
        String sparv = "<w lemma=\"strong:H8033\">hay allí</w><transChange type=\"added\">también</transChange>"
                + "<w lemma=\"strong:H0916\">bdelio</w> ¡<w lemma=\"strong:H1121\">OH</w> <w>Jehová</w>!";
        assertEquals("hay allí también bdelio ¡OH Jehová!", BibleVerses.plainText(sparv));
    }

    @Test
    void parsesEntriesAndSkipsHeadingsAndVerseZero() {
        String imp = "$$$[ Module Heading ]\n\n$$$Genesis 0:0\n<title>Genesis</title>\n$$$Genesis 1:0\n<chapter/>\n"
                + "$$$Genesis 1:1\nIn the <w lemma=\"strong:H7225\">beginning</w>\n$$$Genesis 1:2\n<div/>\n"
                + "$$$I Corinthians 16:24\nMy love <w>be</w>\nwith you.\n";
        Map<BibleVerses.Key, String> verses = BibleVerses.parse(imp);
        assertEquals(Map.of(new BibleVerses.Key("Genesis", 1, 1), "In the beginning",
                new BibleVerses.Key("I Corinthians", 16, 24), "My love be with you."), verses);
    }

    @Test
    void theRealExportsAlign() {
        assertEquals(30_787, PAIRS.size(), "aligned pairs of engKJV2006eb and spaRV1909eb");
        BibleVerses.Pair first = PAIRS.get(0);
        assertEquals(new BibleVerses.Key("Genesis", 1, 1), first.key());
        assertEquals("In the beginning God created the heaven and the earth.", first.english());
        assertEquals("EN el principio crió Dios los cielos y la tierra.", first.spanish());
        assertEquals(new BibleVerses.Key("Revelation of John", 22, 21), PAIRS.get(PAIRS.size() - 1).key());
        for (BibleVerses.Pair pair : PAIRS) {
            for (String text : List.of(pair.english(), pair.spanish())) {
                assertFalse(text.isEmpty() || text.matches("(?s).*([<>¶\\\\]|&[a-z]+;|lemma=|\\s\\s).*")
                        || !text.equals(text.strip()), pair.key() + ": " + text);
            }
        }
    }

    @Test
    void misnumberedVersesAreLeftOut() {
        Set<BibleVerses.Key> keys = PAIRS.stream().map(BibleVerses.Pair::key).collect(Collectors.toSet());
        // Spanish Jonah 2:1 is English 1:17 ("Mas Jehová había prevenido un gran pez"); English 1:17 has no entry.
        assertFalse(keys.contains(new BibleVerses.Key("Jonah", 2, 1)));
        assertFalse(keys.contains(new BibleVerses.Key("Jonah", 1, 17)));
        // In 1 Chronicles 21 the Spanish runs one verse behind from 16 to 29.
        assertFalse(keys.contains(new BibleVerses.Key("I Chronicles", 21, 20)));
        assertTrue(keys.contains(new BibleVerses.Key("I Chronicles", 21, 14)));
        Map<BibleVerses.Key, BibleVerses.Pair> byKey = new HashMap<>();
        PAIRS.forEach(p -> byKey.put(p.key(), p));
        assertTrue(byKey.get(new BibleVerses.Key("Jonah", 1, 16)).spanish().startsWith("Y temieron aquellos hombres"));
    }

    @Test
    void heldOutBooksAreWholeAndDisjoint() {
        Set<String> books = new HashSet<>();
        PAIRS.forEach(p -> books.add(p.key().book()));
        assertEquals(66, books.size());
        assertTrue(books.containsAll(BibleSplit.VALIDATION_BOOKS), "validation books are named as in the export");
        assertTrue(books.containsAll(BibleSplit.TEST_BOOKS), "test books are named as in the export");
        Map<String, Set<BibleSplit>> splitsOfBook = new HashMap<>();
        for (BibleSplit split : BibleSplit.values()) {
            for (BibleVerses.Pair pair : split.of(PAIRS)) {
                splitsOfBook.computeIfAbsent(pair.key().book(), b -> new HashSet<>()).add(split);
            }
        }
        splitsOfBook.forEach((book, splits) -> assertEquals(1, splits.size(), book + " is in " + splits));
        assertEquals(591, BibleSplit.VALIDATION.of(PAIRS).size());
        assertEquals(668, BibleSplit.TEST.of(PAIRS).size());
        assertEquals(30_787 - 591 - 668, BibleSplit.TRAIN.of(PAIRS).size());
    }
}

package io.ringformer.zoo.t5;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a translation should carry over from its source unchanged: the verse number and the names. A translator that
 * has learnt nothing else has usually learnt these first, so they are the tiny recipe's sign of life, measured beside
 * BLEU and chrF by {@code ringformer translate --test-books}.
 *
 * <p><b>Verse numbers.</b> With {@code data.verse_numbers} the source and the target of a verse both start with its
 * chapter and verse, "{@code 3:16 }" ({@link #numbered}); a translation copies the number when it starts with the
 * same one. Scores are taken on the text after it ({@link #withoutVerseNumber}), so BLEU and chrF compare with
 * runs without numbers.
 *
 * <p><b>Names</b> ({@link #names}): the words that start with a capital letter, are at least two letters long and are
 * spelled the same in the English source and the Spanish reference ("David", "Moab", "Israel"; not "Jesus" →
 * "Jesús"). The translation copies one when it has that word.
 */
public final class Copying {

    private static final Pattern VERSE_NUMBER = Pattern.compile("^(\\d+:\\d+)(\\s+|$)");
    private static final Pattern WORD = Pattern.compile("\\p{L}+");

    private Copying() {}

    /** "chapter:verse", e.g. {@code 3:16}. */
    public static String verseNumber(BibleVerses.Key key) {
        return key.chapter() + ":" + key.verse();
    }

    /** The pair with "chapter:verse " in front of both its texts. */
    public static BibleVerses.Pair numbered(BibleVerses.Pair pair) {
        String number = verseNumber(pair.key()) + " ";
        return new BibleVerses.Pair(pair.key(), number + pair.english(), number + pair.spanish());
    }

    /** Whether {@code translation} starts with the verse number of {@code key}, as a word of its own. */
    public static boolean copiesVerseNumber(BibleVerses.Key key, String translation) {
        Matcher number = VERSE_NUMBER.matcher(translation.strip());
        return number.find() && number.group(1).equals(verseNumber(key));
    }

    /** {@code translation} without a leading "chapter:verse " (any number, right or wrong). */
    public static String withoutVerseNumber(String translation) {
        return VERSE_NUMBER.matcher(translation.strip()).replaceFirst("");
    }

    /** The names of a verse: capitalised words of two or more letters in both texts, in the source's order. */
    public static Set<String> names(String source, String reference) {
        Set<String> inReference = words(reference);
        Set<String> names = new LinkedHashSet<>();
        for (String word : words(source)) {
            if (word.length() >= 2 && Character.isUpperCase(word.codePointAt(0)) && inReference.contains(word)) {
                names.add(word);
            }
        }
        return names;
    }

    /** How many of {@code names} are words of {@code translation}. */
    public static int copied(Set<String> names, String translation) {
        Set<String> words = words(translation);
        return (int) names.stream().filter(words::contains).count();
    }

    private static Set<String> words(String text) {
        Set<String> words = new LinkedHashSet<>();
        Matcher word = WORD.matcher(text);
        while (word.find()) {
            words.add(word.group());
        }
        return words;
    }

    /** Counts over a set of translated verses: verse numbers and names copied, of how many. */
    public record Tally(int verses, int numbersCopied, int names, int namesCopied) {

        /**
         * @param keys         the verses' keys
         * @param sources      their English texts, without verse numbers
         * @param references   their Spanish texts, without verse numbers
         * @param translations the translator's outputs, verse numbers as it wrote them
         */
        public static Tally of(List<BibleVerses.Key> keys, List<String> sources, List<String> references,
                               List<String> translations) {
            int numbers = 0;
            int names = 0;
            int namesCopied = 0;
            for (int i = 0; i < keys.size(); i++) {
                numbers += copiesVerseNumber(keys.get(i), translations.get(i)) ? 1 : 0;
                Set<String> verseNames = Copying.names(sources.get(i), references.get(i));
                names += verseNames.size();
                namesCopied += copied(verseNames, withoutVerseNumber(translations.get(i)));
            }
            return new Tally(keys.size(), numbers, names, namesCopied);
        }
    }
}

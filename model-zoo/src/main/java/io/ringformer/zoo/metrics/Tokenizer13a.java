package io.ringformer.zoo.metrics;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * sacreBLEU's default BLEU tokenizer, "13a" (the tokenization of WMT's {@code mteval-v13a.pl}), as sacreBLEU 2.x
 * applies it ({@code tokenizers/tokenizer_13a.py} and {@code tokenizer_re.py}), written from its description:
 * <ol>
 *   <li>drop {@code <skipped>} and {@code -} + newline; other newlines become spaces;</li>
 *   <li>if the line holds {@code &}: {@code &quot;} → {@code "}, then {@code &amp;} → {@code &}, then {@code &lt;}
 *       → {@code <}, then {@code &gt;} → {@code >} (in that order, so {@code &amp;lt;} ends as {@code <});</li>
 *   <li>pad the line with a space on each side, then four regex substitutions, each over the whole line, left to
 *       right without overlaps:
 *     <ul>
 *       <li>spaces around each ASCII symbol or punctuation except {@code ' , - .}, that is around
 *           {@code ! " # $ % & ( ) * + / : ; < = > ? @ [ \ ] ^ _ ` { | } ~};</li>
 *       <li>a period or comma after a non-digit: {@code x.} → {@code x . } (so {@code 1.5} stays whole);</li>
 *       <li>a period or comma before a non-digit: {@code .x} → {@code  . x};</li>
 *       <li>a hyphen after a digit: {@code 5-} → {@code 5 - } (so {@code 1-3} splits, {@code well-known}
 *           does not);</li>
 *     </ul></li>
 *   <li>split on whitespace (Python's {@code str.split()}: Unicode whitespace and the separators U+001C–U+001F)
 *       and join the tokens with single spaces.</li>
 * </ol>
 * Apostrophes stay inside words ({@code Ahab's}), and non-ASCII punctuation ({@code ¿ ¡ « » — “ ”}) is left where it
 * is: 13a is ASCII-minded, which is why it is only comparable with itself.
 */
public final class Tokenizer13a {

    private static final Pattern SYMBOL = Pattern.compile("[\\{-\\~\\[-\\` -\\&\\(-\\+\\:-\\@\\/]");
    private static final Pattern PERIOD_COMMA_AFTER_NON_DIGIT = Pattern.compile("([^0-9])([\\.,])");
    private static final Pattern PERIOD_COMMA_BEFORE_NON_DIGIT = Pattern.compile("([\\.,])([^0-9])");
    private static final Pattern HYPHEN_AFTER_DIGIT = Pattern.compile("([0-9])(-)");

    private Tokenizer13a() {}

    /** The tokenized line: tokens joined by single spaces, none at the ends. */
    public static String tokenize(String line) {
        line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ");
        if (line.indexOf('&') >= 0) {
            line = line.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
        }
        line = " " + line + " ";
        line = SYMBOL.matcher(line).replaceAll(" $0 ");
        line = PERIOD_COMMA_AFTER_NON_DIGIT.matcher(line).replaceAll("$1 $2 ");
        line = PERIOD_COMMA_BEFORE_NON_DIGIT.matcher(line).replaceAll(" $1 $2");
        line = HYPHEN_AFTER_DIGIT.matcher(line).replaceAll("$1 $2 ");
        return String.join(" ", split(line));
    }

    /** Python's {@code str.split()}: the non-empty runs between whitespace. */
    static List<String> split(String text) {
        List<String> parts = new ArrayList<>();
        int start = -1;
        for (int i = 0; i < text.length(); i++) {
            if (isPythonWhitespace(text.charAt(i))) {
                if (start >= 0) {
                    parts.add(text.substring(start, i));
                    start = -1;
                }
            } else if (start < 0) {
                start = i;
            }
        }
        if (start >= 0) {
            parts.add(text.substring(start));
        }
        return parts;
    }

    /** Python's {@code str.isspace()} for one character (all such characters are in the BMP). */
    static boolean isPythonWhitespace(char c) {
        return c == ' ' || c >= '\t' && c <= '\r' || c >= 0x1C && c <= 0x1F || c == 0x85 || c == 0xA0
                || c == 0x1680 || c >= 0x2000 && c <= 0x200A || c == 0x2028 || c == 0x2029 || c == 0x202F
                || c == 0x205F || c == 0x3000;
    }

    /** Python's {@code str.rstrip()}. */
    static String stripTrailingWhitespace(String text) {
        int end = text.length();
        while (end > 0 && isPythonWhitespace(text.charAt(end - 1))) {
            end--;
        }
        return text.substring(0, end);
    }
}

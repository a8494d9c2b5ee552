package io.ringformer.zoo.t5;

/**
 * Text to token ids, without EOS: the one thing T5's data needs of a tokenizer. Any tokenizer's {@code encode}
 * method fits ({@code tokenizer::encode}); tests use a character-level stand-in.
 */
@FunctionalInterface
public interface TextEncoder {

    int[] encode(String text);
}

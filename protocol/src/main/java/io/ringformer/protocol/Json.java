package io.ringformer.protocol;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.util.Arrays;
import java.util.Locale;

/**
 * The one JSON dialect of everything stored in ZooKeeper: snake_case field names (as the checkpoints' JSON files),
 * unknown fields ignored (a newer writer may add some), missing fields an error, NaN allowed (a diverged loss).
 */
final class Json {

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    private Json() {
    }

    /** An enum constant's JSON name: its name in lower case. */
    static String name(Enum<?> constant) {
        return constant.name().toLowerCase(Locale.ROOT);
    }

    /** The constant of {@code type} whose JSON {@link #name} is {@code text}; the error lists the names there are. */
    static <E extends Enum<E>> E constant(Class<E> type, String text, String what) {
        for (E constant : type.getEnumConstants()) {
            if (name(constant).equals(text)) {
                return constant;
            }
        }
        throw new IllegalArgumentException("unknown " + what + " '" + text + "'; expected one of "
                + Arrays.stream(type.getEnumConstants()).map(Json::name).toList());
    }

    static byte[] encode(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode " + value + " as JSON", e);
        }
    }

    /** Decodes {@code bytes} as a {@code type}, or says in a {@link ProtocolException} what is wrong with them. */
    static <T> T decode(byte[] bytes, Class<T> type, String what) {
        if (bytes == null || bytes.length == 0) {
            throw new ProtocolException("cannot decode " + what + ": no bytes");
        }
        try {
            return MAPPER.readValue(bytes, type);
        } catch (IOException | RuntimeException e) {
            Throwable cause = e;
            while (cause.getCause() != null && cause.getCause() != cause) {
                cause = cause.getCause(); // the record's own validation message, when that is what failed
            }
            String reason = cause instanceof JsonProcessingException json ? json.getOriginalMessage()
                    : String.valueOf(cause.getMessage());
            reason = reason.lines().findFirst().orElse("")
                    .replaceFirst("^Missing creator property '([^']+)'.*", "missing field '$1'");
            throw new ProtocolException("cannot decode " + what + " from " + bytes.length + " bytes ("
                    + preview(bytes) + "): " + reason, e);
        }
    }

    /** The first 80 bytes, printable ASCII as is and every other byte as \xNN. */
    private static String preview(byte[] bytes) {
        StringBuilder out = new StringBuilder("'");
        for (int i = 0; i < Math.min(bytes.length, 80); i++) {
            int b = bytes[i] & 0xff;
            out.append(b >= 0x20 && b < 0x7f ? String.valueOf((char) b) : String.format("\\x%02x", b));
        }
        return out.append(bytes.length > 80 ? "…'" : "'").toString();
    }
}

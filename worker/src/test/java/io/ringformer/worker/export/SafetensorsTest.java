package io.ringformer.worker.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {

    private static Map<String, Safetensors.Tensor> sample() {
        Map<String, Safetensors.Tensor> tensors = new LinkedHashMap<>();
        tensors.put("transformer.wte.weight", new Safetensors.Tensor(new long[] {3, 2}, new float[] {1, -2, 3.5f, 4, 5, -0f}));
        tensors.put("scalar_like", new Safetensors.Tensor(new long[] {1}, new float[] {Float.MIN_VALUE}));
        tensors.put("bias", new Safetensors.Tensor(new long[] {5}, new float[] {0.1f, 0.2f, 0.3f, 1e30f, -7}));
        return tensors;
    }

    @Test
    void whatIsWrittenReadsBackInOrderWithShapesValuesAndMetadata(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("model.safetensors");
        Safetensors.write(file, sample(), Map.of("format", "pt"));
        Safetensors.Contents read = Safetensors.read(file);
        assertEquals(List.copyOf(sample().keySet()), List.copyOf(read.tensors().keySet()));
        for (Map.Entry<String, Safetensors.Tensor> e : sample().entrySet()) {
            assertArrayEquals(e.getValue().shape(), read.tensors().get(e.getKey()).shape(), e.getKey());
            assertArrayEquals(e.getValue().values(), read.tensors().get(e.getKey()).values(), e.getKey());
        }
        assertEquals(Map.of("format", "pt"), read.metadata());
    }

    /** The layout other readers rely on: u64 LE header length, a multiple of 8, JSON, then LE floats in order. */
    @Test
    void theBytesFollowTheFormat(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("model.safetensors");
        Safetensors.write(file, sample(), Map.of());
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long header = buffer.getLong(0);
        assertEquals(0, header % 8);
        String json = new String(bytes, 8, (int) header, StandardCharsets.UTF_8);
        assertTrue(json.startsWith("{\"transformer.wte.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}"), json);
        assertEquals(8 + header + 4 * 12, bytes.length);
        assertEquals(3.5f, buffer.getFloat((int) (8 + header + 8)));
        assertEquals(Float.MIN_VALUE, buffer.getFloat((int) (8 + header + 24)));
    }

    @Test
    void aTruncatedOrForeignFileIsRefusedNamingWhy(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("model.safetensors");
        Safetensors.write(file, sample(), Map.of());
        byte[] bytes = Files.readAllBytes(file);
        Path truncated = dir.resolve("truncated.safetensors");
        Files.write(truncated, Arrays.copyOf(bytes, bytes.length - 3));
        IOException e = assertThrows(IOException.class, () -> Safetensors.read(truncated));
        assertTrue(e.getMessage().contains("tensor bias") && e.getMessage().contains("truncated"), e.getMessage());

        Path text = dir.resolve("notes.txt");
        Files.writeString(text, "these are not tensors at all");
        e = assertThrows(IOException.class, () -> Safetensors.read(text));
        assertTrue(e.getMessage().contains("is not a safetensors file"), e.getMessage());

        Path half = dir.resolve("half.safetensors");
        String json = "{\"x\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}";
        ByteBuffer f16 = ByteBuffer.allocate(8 + json.length() + 2).order(ByteOrder.LITTLE_ENDIAN);
        f16.putLong(json.length()).put(json.getBytes(StandardCharsets.UTF_8));
        Files.write(half, f16.array());
        e = assertThrows(IOException.class, () -> Safetensors.read(half));
        assertTrue(e.getMessage().contains("F32 only"), e.getMessage());
    }
}

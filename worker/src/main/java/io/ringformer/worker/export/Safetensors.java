package io.ringformer.worker.export;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON naming each
 * tensor's dtype, shape and byte range ({@code data_offsets}, relative to the end of the header), then the tensors'
 * bytes, little-endian, row-major. Only F32 is written here; the header is padded with spaces to a multiple of 8 so
 * that the data is aligned. {@link #read} checks everything a broken file can get wrong and names it.
 */
public final class Safetensors {

    /** A tensor: its shape and its values in row-major order. */
    public record Tensor(long[] shape, float[] values) {
        public Tensor {
            long count = Arrays.stream(shape).reduce(1, Math::multiplyExact);
            if (count != values.length) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + count
                        + " values, not " + values.length);
            }
        }
    }

    /** What {@link #read} returns: the tensors in file order, and the header's {@code __metadata__}. */
    public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER_BYTES = 100L << 20;

    private Safetensors() {}

    /** Writes {@code tensors} (in this order) with {@code metadata} to {@code file}, atomically (temporary, rename). */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
            ObjectNode node = header.putObject(entry.getKey());
            node.put("dtype", "F32");
            ArrayNode shape = node.putArray("shape");
            Arrays.stream(entry.getValue().shape()).forEach(shape::add);
            long bytes = (long) entry.getValue().values().length * Float.BYTES;
            node.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        byte[] head = Arrays.copyOf(json, padded);
        Arrays.fill(head, json.length, padded, (byte) ' ');

        Path temporary = file.resolveSibling(file.getFileName() + ".partial");
        try (OutputStream out = Files.newOutputStream(temporary)) {
            ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
            out.write(length.array());
            out.write(head);
            for (Tensor tensor : tensors.values()) {
                ByteBuffer data = ByteBuffer.allocate(tensor.values().length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                data.asFloatBuffer().put(tensor.values());
                out.write(data.array());
            }
        }
        Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * Reads a file of F32 tensors.
     *
     * @throws IOException naming the file and what is wrong with it (truncated, a header that is not JSON, a tensor
     *                     whose bytes do not match its shape or lie outside the file, a dtype other than F32)
     */
    public static Contents read(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < 8) {
                throw new IOException(file + " is not a safetensors file: " + size + " bytes, shorter than its header length");
            }
            ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, lengthBytes, 0);
            long headerBytes = lengthBytes.getLong(0);
            if (headerBytes <= 0 || headerBytes > MAX_HEADER_BYTES || 8 + headerBytes > size) {
                throw new IOException(file + " is not a safetensors file (or is truncated): header length "
                        + headerBytes + " in a file of " + size + " bytes");
            }
            ByteBuffer headerBuffer = ByteBuffer.allocate((int) headerBytes);
            readFully(channel, headerBuffer, 8);
            JsonNode header;
            try {
                header = JSON.readTree(new String(headerBuffer.array(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new IOException(file + ": its safetensors header is not JSON: " + e.getMessage());
            }
            if (header == null || !header.isObject()) {
                throw new IOException(file + ": its safetensors header is not a JSON object");
            }
            long dataStart = 8 + headerBytes;
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> entry = it.next();
                String name = entry.getKey();
                JsonNode node = entry.getValue();
                if (name.equals("__metadata__")) {
                    node.fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                    continue;
                }
                if (!"F32".equals(node.path("dtype").asText())) {
                    throw new IOException(file + ": tensor " + name + " has dtype " + node.path("dtype")
                            + "; this reader reads F32 only");
                }
                long[] shape = new long[node.path("shape").size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = node.path("shape").get(i).asLong();
                }
                long begin = node.path("data_offsets").path(0).asLong(-1);
                long end = node.path("data_offsets").path(1).asLong(-1);
                long count = Arrays.stream(shape).reduce(1, Math::multiplyExact);
                if (begin < 0 || end < begin || end - begin != count * Float.BYTES || dataStart + end > size
                        || count > Integer.MAX_VALUE) {
                    throw new IOException(file + ": tensor " + name + " of shape " + Arrays.toString(shape)
                            + " claims bytes [" + begin + ", " + end + ") of " + (size - dataStart)
                            + "; the file is truncated or its header is wrong");
                }
                ByteBuffer data = ByteBuffer.allocate((int) (end - begin)).order(ByteOrder.LITTLE_ENDIAN);
                readFully(channel, data, dataStart + begin);
                float[] values = new float[(int) count];
                data.flip();
                data.asFloatBuffer().get(values);
                tensors.put(name, new Tensor(shape, values));
            }
            return new Contents(tensors, metadata);
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer into, long position) throws IOException {
        while (into.hasRemaining()) {
            int read = channel.read(into, position + into.position());
            if (read < 0) {
                throw new IOException("unexpected end of file at byte " + (position + into.position()));
            }
        }
    }
}

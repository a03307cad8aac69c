package dev.kvlab.model.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The parsed and checked header of a safetensors file: 8-byte little-endian length, then a JSON
 * object mapping each tensor name to its dtype, shape and byte range in the data section.
 */
final class SafetensorsHeader {

    /** The reference implementation refuses headers above 100 MB; so do we. */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** One tensor's entry; {@code position} is absolute in the file. */
    record Entry(String name, String dtype, long[] shape, long position, long byteLength) {

        long elementCount() {
            long n = 1;
            for (long d : shape) {
                n *= d; // cannot overflow: checked when the header was read
            }
            return n;
        }
    }

    private SafetensorsHeader() {}

    static Map<String, Entry> read(Path file, FileChannel channel) throws IOException {
        long fileSize = channel.size();
        if (fileSize < 8) {
            throw new WeightException(file + ": " + fileSize + " bytes is too short for a safetensors file");
        }
        ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, lengthBytes, 0);
        long headerLength = lengthBytes.getLong(0);
        if (headerLength < 2 || headerLength > fileSize - 8 || headerLength > MAX_HEADER_BYTES) {
            throw new WeightException(file + ": header length " + headerLength
                    + " does not fit the file (" + fileSize + " bytes); not a safetensors file, or corrupt");
        }
        ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
        readFully(channel, headerBytes, 8);
        JsonNode root;
        try {
            root = JSON.readTree(headerBytes.array());
        } catch (JacksonException e) {
            throw new WeightException(file + ": header is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new WeightException(file + ": header is not a JSON object");
        }
        long dataStart = 8 + headerLength;
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> property : root.properties()) {
            if (!property.getKey().equals("__metadata__")) {
                Entry entry = entry(file, property.getKey(), property.getValue(), dataStart, fileSize);
                entries.put(entry.name(), entry);
            }
        }
        return Collections.unmodifiableMap(entries);
    }

    private static Entry entry(Path file, String name, JsonNode node, long dataStart, long fileSize) {
        String where = file + ": tensor '" + name + "'";
        JsonNode dtype = node.path("dtype");
        JsonNode shapeNode = node.path("shape");
        JsonNode offsets = node.path("data_offsets");
        if (!dtype.isString() || !shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2
                || !offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong()) {
            throw new WeightException(where + " needs a string dtype, a shape list and two data_offsets: " + node);
        }
        long[] shape = new long[shapeNode.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode dim = shapeNode.get(i);
            if (!dim.canConvertToLong() || dim.longValue() < 0) {
                throw new WeightException(where + " has an invalid shape " + shapeNode);
            }
            shape[i] = dim.longValue();
            elements = multiplyOrFail(elements, shape[i], where);
        }
        long begin = offsets.get(0).longValue();
        long end = offsets.get(1).longValue();
        String range = " data_offsets [" + begin + ", " + end + "]";
        if (begin < 0 || end < begin) {
            throw new WeightException(where + range + " are not a valid range");
        }
        if (end > fileSize - dataStart) {
            throw new WeightException(where + range + " reach past the end of the data section ("
                    + (fileSize - dataStart) + " bytes): the file is truncated");
        }
        int elementBytes = bytesPerElement(dtype.stringValue());
        if (elementBytes > 0) {
            long expected = multiplyOrFail(elements, elementBytes, where);
            if (expected != end - begin) {
                throw new WeightException(where + range + " hold " + (end - begin) + " bytes but shape "
                        + Arrays.toString(shape) + " of " + dtype.stringValue() + " needs " + expected);
            }
        }
        return new Entry(name, dtype.stringValue(), shape, dataStart + begin, end - begin);
    }

    /** Size of one element of a safetensors dtype, or 0 for a name this reader does not know. */
    static int bytesPerElement(String dtype) {
        return switch (dtype) {
            case "F64", "I64", "U64" -> 8;
            case "F32", "I32", "U32" -> 4;
            case "F16", "BF16", "I16", "U16" -> 2;
            case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2" -> 1;
            default -> 0;
        };
    }

    private static long multiplyOrFail(long a, long b, String where) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw new WeightException(where + " has a shape too large to address");
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, position + buffer.position());
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }
}

package dev.kvlab.model.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kvlab.model.weights.SafetensorsWriter.Dtype;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SafetensorsFileTest {

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Dtype.class)
    void readsBackWhatTheWriterWroteWithinTheDtypesRounding(Dtype dtype) {
        float[] weight = randomFloats(6 * 5, 1);
        float[] bias = {0f, -1.5f, 1e-3f, 65000f, -2e-5f};
        Path file = dir.resolve("model.safetensors");
        new SafetensorsWriter().put("layer.weight", weight, 6, 5).put("layer.bias", bias, 5).write(file, dtype);

        try (SafetensorsFile weights = SafetensorsFile.open(file)) {
            assertThat(weights.names()).containsExactly("layer.weight", "layer.bias");
            assertArrayEquals(new long[] {6, 5}, weights.shape("layer.weight"));
            assertEquals(dtype.name(), weights.dtype("layer.bias"));
            assertCloseTo(weight, weights.readFloats("layer.weight", 6, 5), dtype);
            assertCloseTo(bias, weights.readFloats("layer.bias", 5), dtype);
        }
    }

    @ParameterizedTest
    @EnumSource(Dtype.class)
    void readsATensorMappedInManySmallChunks(Dtype dtype) {
        float[] values = randomFloats(1001, 2);
        Path file = dir.resolve("chunked.safetensors");
        new SafetensorsWriter().put("x", values, 7, 11, 13).write(file, dtype);
        try (SafetensorsFile whole = SafetensorsFile.open(file); SafetensorsFile chunked = SafetensorsFile.open(file, 64)) {
            assertArrayEquals(whole.readFloats("x"), chunked.readFloats("x", 7, 11, 13));
        }
    }

    @Test
    void readsATensorStoredBeyondTwoGibibytes() throws IOException {
        long farOffset = (1L << 31) + 4096;
        String header = "{\"near\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"far\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[" + farOffset + "," + (farOffset + 16) + "]}}";
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        Path file = dir.resolve("big.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            long dataStart = 8 + json.length;
            raf.setLength(dataStart + farOffset + 16); // sparse: costs no disk
            raf.write(littleEndianLong(json.length));
            raf.write(json);
            raf.write(floatsLittleEndian(7f, 8f));
            raf.seek(dataStart + farOffset);
            raf.write(floatsLittleEndian(1f, -2f, 3.5f, 1e30f));
        }
        try (SafetensorsFile weights = SafetensorsFile.open(file)) {
            assertArrayEquals(new float[] {1f, -2f, 3.5f, 1e30f}, weights.readFloats("far", 2, 2));
            assertArrayEquals(new float[] {7f, 8f}, weights.readFloats("near", 2));
        }
    }

    @Test
    void truncatedFileIsRejectedNamingFileAndTensor() throws IOException {
        Path file = dir.resolve("model.safetensors");
        new SafetensorsWriter().put("a", new float[4], 4).put("b", new float[8], 8).write(file, Dtype.F32);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.truncate(channel.size() - 4);
        }
        assertThatThrownBy(() -> SafetensorsFile.open(file))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("'b'")
                .hasMessageContaining("truncated");
    }

    @Test
    void offsetsThatDisagreeWithShapeAreRejected() throws IOException {
        Path file = writeRaw("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]);
        assertThatThrownBy(() -> SafetensorsFile.open(file))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("'w'")
                .hasMessageContaining("hold 8 bytes")
                .hasMessageContaining("needs 12");
    }

    @Test
    void headerThatIsNotJsonIsRejected() throws IOException {
        Path file = writeRaw("{\"w\": {dtype: F32", new byte[8]);
        assertThatThrownBy(() -> SafetensorsFile.open(file))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("not valid JSON");
    }

    @Test
    void headerLengthLargerThanTheFileIsRejected() throws IOException {
        Path file = dir.resolve("short.safetensors");
        Files.write(file, concat(littleEndianLong(1_000_000), "{}".getBytes(StandardCharsets.UTF_8)));
        assertThatThrownBy(() -> SafetensorsFile.open(file))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("header length 1000000")
                .hasMessageContaining("10 bytes");
    }

    @Test
    void negativeHeaderLengthIsRejected() throws IOException {
        Path file = dir.resolve("negative.safetensors");
        Files.write(file, concat(littleEndianLong(-5), "{}".getBytes(StandardCharsets.UTF_8)));
        assertThatThrownBy(() -> SafetensorsFile.open(file)).isInstanceOf(WeightException.class)
                .hasMessageContaining("header length -5");
    }

    @Test
    void missingFileIsRejectedNamingIt() {
        Path file = dir.resolve("absent.safetensors");
        assertThatThrownBy(() -> SafetensorsFile.open(file)).isInstanceOf(WeightException.class)
                .hasMessageContaining(file.toString());
    }

    @Test
    void missingTensorIsNamed() {
        Path file = dir.resolve("model.safetensors");
        new SafetensorsWriter().put("a", new float[2], 2).write(file, Dtype.F32);
        try (SafetensorsFile weights = SafetensorsFile.open(file)) {
            assertThat(weights.contains("lm_head.weight")).isFalse();
            assertThatThrownBy(() -> weights.readFloats("lm_head.weight"))
                    .isInstanceOf(WeightException.class)
                    .hasMessage("tensor 'lm_head.weight' not found in " + file);
        }
    }

    @Test
    void shapeMismatchShowsBothShapes() {
        Path file = dir.resolve("model.safetensors");
        new SafetensorsWriter().put("q.weight", new float[6], 2, 3).write(file, Dtype.BF16);
        try (SafetensorsFile weights = SafetensorsFile.open(file)) {
            assertThatThrownBy(() -> weights.readFloats("q.weight", 3, 2))
                    .isInstanceOf(WeightException.class)
                    .hasMessageContaining("'q.weight'")
                    .hasMessageContaining("[2, 3]")
                    .hasMessageContaining("expects [3, 2]");
        }
    }

    @Test
    void unsupportedDtypeFailsOnlyWhenThatTensorIsRead() throws IOException {
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]}}";
        byte[] data = concat(new byte[16], floatsLittleEndian(0.25f));
        Path file = writeRaw(header, data);
        try (SafetensorsFile weights = SafetensorsFile.open(file)) {
            assertThat(weights.names()).containsExactly("ids", "w");
            assertArrayEquals(new long[] {2}, weights.shape("ids"));
            assertArrayEquals(new float[] {0.25f}, weights.readFloats("w", 1));
            assertThatThrownBy(() -> weights.readFloats("ids", 2))
                    .isInstanceOf(WeightException.class)
                    .hasMessageContaining("'ids'")
                    .hasMessageContaining("I64");
        }
    }

    @Test
    void readingAfterCloseFails() {
        Path file = dir.resolve("model.safetensors");
        new SafetensorsWriter().put("a", new float[2], 2).write(file, Dtype.F32);
        SafetensorsFile weights = SafetensorsFile.open(file);
        weights.close();
        assertThatThrownBy(() -> weights.readFloats("a")).isInstanceOf(WeightException.class);
    }

    private Path writeRaw(String header, byte[] data) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        Path file = dir.resolve("raw.safetensors");
        Files.write(file, concat(concat(littleEndianLong(json.length), json), data));
        return file;
    }

    private static void assertCloseTo(float[] expected, float[] actual, Dtype dtype) {
        assertEquals(expected.length, actual.length);
        double relative = switch (dtype) {
            case F32 -> 0;
            case F16 -> 0x1p-11;
            case BF16 -> 0x1p-8;
        };
        for (int i = 0; i < expected.length; i++) {
            double tolerance = Math.abs(expected[i]) * relative + (dtype == Dtype.F16 ? 0x1p-25 : 0);
            assertEquals(expected[i], actual[i], tolerance, "element " + i + " in " + dtype);
        }
    }

    private static float[] randomFloats(int n, long seed) {
        Random random = new Random(seed);
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }

    private static byte[] littleEndianLong(long value) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array();
    }

    private static byte[] floatsLittleEndian(float... values) {
        ByteBuffer buffer = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            buffer.putFloat(v);
        }
        return buffer.array();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}

package dev.kvlab.model.weights;

import dev.kvlab.cache.HostArrays;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.MappedByteBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/**
 * One safetensors file, read tensor by tensor through memory maps of each tensor's byte range, so
 * files past 2 GiB work and no tensor is copied more than once (into the returned {@code float[]}).
 * The header is checked when the file is opened; a dtype other than F32/F16/BF16 fails only when
 * that tensor is read.
 */
public final class SafetensorsFile implements WeightSource {

    private static final int DEFAULT_MAP_CHUNK_BYTES = 1 << 30;

    private final Path file;
    private final FileChannel channel;
    private final Map<String, SafetensorsHeader.Entry> tensors;
    private final int mapChunkBytes;

    private SafetensorsFile(Path file, FileChannel channel, Map<String, SafetensorsHeader.Entry> tensors,
            int mapChunkBytes) {
        this.file = file;
        this.channel = channel;
        this.tensors = tensors;
        this.mapChunkBytes = mapChunkBytes;
    }

    /**
     * Opens and validates {@code file}.
     *
     * @throws WeightException when the file is missing, truncated, or its header is corrupt
     */
    public static SafetensorsFile open(Path file) {
        return open(file, DEFAULT_MAP_CHUNK_BYTES);
    }

    /** Maps at most {@code mapChunkBytes} at a time (a multiple of 4), so tensors above 2 GiB work. */
    static SafetensorsFile open(Path file, int mapChunkBytes) {
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new WeightException("cannot open " + file + ": " + e, e);
        }
        try {
            return new SafetensorsFile(file, channel, SafetensorsHeader.read(file, channel), mapChunkBytes & ~3);
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel, e);
            throw e instanceof WeightException we ? we : new WeightException("cannot read " + file + ": " + e, e);
        }
    }

    public Path file() {
        return file;
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public long[] shape(String name) {
        return entry(name).shape().clone();
    }

    @Override
    public String dtype(String name) {
        return entry(name).dtype();
    }

    /**
     * {@inheritDoc}
     *
     * <p>With no {@code expectedShape} the stored shape is not checked.
     */
    @Override
    public float[] readFloats(String name, long... expectedShape) {
        SafetensorsHeader.Entry entry = entry(name);
        if (expectedShape != null && expectedShape.length > 0 && !Arrays.equals(entry.shape(), expectedShape)) {
            throw new WeightException(file + ": tensor '" + name + "' has shape " + Arrays.toString(entry.shape())
                    + " but the model expects " + Arrays.toString(expectedShape));
        }
        int elementBytes = switch (entry.dtype()) {
            case "F32" -> 4;
            case "F16", "BF16" -> 2;
            default -> throw new WeightException(file + ": tensor '" + name + "' has dtype " + entry.dtype()
                    + "; only F32, F16 and BF16 are supported");
        };
        long count = entry.elementCount();
        if (count > Integer.MAX_VALUE - 8) {
            throw new WeightException(file + ": tensor '" + name + "' has " + count
                    + " elements, too many for one Java array");
        }
        float[] out = new float[(int) count];
        try {
            int done = 0;
            while (done < out.length) {
                int n = Math.min(out.length - done, mapChunkBytes / elementBytes);
                MappedByteBuffer region = channel.map(FileChannel.MapMode.READ_ONLY,
                        entry.position() + (long) done * elementBytes, (long) n * elementBytes);
                try {
                    region.order(ByteOrder.LITTLE_ENDIAN);
                    decode(entry.dtype(), region, out, done, n);
                } finally {
                    // unmapped now, not when the collector finds it: a multi-GiB checkpoint would
                    // otherwise keep every tensor's pages mapped while it loads
                    HostArrays.free(region);
                }
                done += n;
            }
        } catch (IOException e) {
            throw new WeightException(file + ": cannot read tensor '" + name + "': " + e, e);
        }
        return out;
    }

    private static void decode(String dtype, MappedByteBuffer region, float[] out, int offset, int n) {
        if (dtype.equals("F32")) {
            FloatBuffer floats = region.asFloatBuffer();
            floats.get(out, offset, n);
            return;
        }
        ShortBuffer halves = region.asShortBuffer();
        boolean bf16 = dtype.equals("BF16");
        for (int i = 0; i < n; i++) {
            short bits = halves.get(i);
            out[offset + i] = bf16 ? HalfFloats.fromBf16(bits) : HalfFloats.fromF16(bits);
        }
    }

    private SafetensorsHeader.Entry entry(String name) {
        SafetensorsHeader.Entry entry = tensors.get(name);
        if (entry == null) {
            throw new WeightException("tensor '" + name + "' not found in " + file);
        }
        return entry;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close " + file, e);
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + file + ", " + tensors.size() + " tensors]";
    }

    private static void closeQuietly(FileChannel channel, Exception cause) {
        try {
            channel.close();
        } catch (IOException e) {
            cause.addSuppressed(e);
        }
    }
}

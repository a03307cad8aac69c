package dev.kvlab.model;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.kvlab.model.weights.WeightSource;
import dev.kvlab.model.weights.WeightSources;
import java.nio.file.Path;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a {@link TransformerModel} from a Hugging Face model folder: reads the config, picks the
 * device and compute dtype, and has the architecture's package map the checkpoint's tensor names
 * onto its weights, each streamed from the memory-mapped safetensors onto the device.
 */
public final class ModelLoader {
    private static final Logger log = LoggerFactory.getLogger(ModelLoader.class);

    private ModelLoader() {}

    /**
     * Where to run and in which dtype; {@code dtype} null means f32 on CPU, f16 on GPU.
     * {@code decodeThreads}: PyTorch intra-op threads for single-token steps on a CPU (see
     * {@link IntraOpThreads}); 0 means the same as prefill, null the default of 1.
     */
    public record Options(String device, DataType dtype, Integer decodeThreads) {
        public static final int DEFAULT_DECODE_THREADS = 1;

        public Options(String device, DataType dtype) {
            this(device, dtype, null);
        }

        public static Options defaults() {
            return new Options("auto", null);
        }

        int decodeThreadsOrDefault() {
            return decodeThreads == null ? DEFAULT_DECODE_THREADS : decodeThreads;
        }
    }

    public static TransformerModel load(Path modelDir, Options options) {
        ModelFolder folder = ModelFolder.open(modelDir);
        Device device = resolveDevice(options.device());
        try (WeightSource source = WeightSources.open(modelDir)) {
            DataType dtype = options.dtype() != null ? options.dtype() : defaultDtype(device, source);
            return load(folder.config(), source, device, dtype, options.decodeThreadsOrDefault());
        }
    }

    /**
     * f32 on a CPU. On a GPU f16, except for a checkpoint stored in bf16: bf16 has f32's exponent
     * range and f16 has not, so its activations may overflow in f16; such a model loads as f32 (twice
     * the memory, correct) unless {@code kvlab.model.dtype=f16} asks otherwise.
     */
    static DataType defaultDtype(Device device, WeightSource source) {
        if (!device.isGpu()) {
            return DataType.FLOAT32;
        }
        boolean bf16 = source.names().stream().anyMatch(name -> "BF16".equals(source.dtype(name)));
        if (bf16) {
            log.warn("The checkpoint is stored in bf16, which f16 cannot hold without overflow: loading it as f32 on"
                    + " {} (set kvlab.model.dtype=f16 to halve the memory at that risk)", device);
            return DataType.FLOAT32;
        }
        return DataType.FLOAT16;
    }

    public static TransformerModel load(ModelConfig config, WeightSource source, Device device, DataType dtype) {
        return load(config, source, device, dtype, Options.DEFAULT_DECODE_THREADS);
    }

    private static TransformerModel load(ModelConfig config, WeightSource source, Device device, DataType dtype,
            int decodeThreads) {
        if (decodeThreads < 0) {
            throw new IllegalArgumentException("decode threads must be 0 (as prefill) or positive, got " + decodeThreads);
        }
        NDManager manager = NDManager.newBaseManager(device);
        try {
            DeviceTensors tensors = new DeviceTensors(source, manager, dtype);
            AbstractDecoder model = Architectures.decoder(config, tensors, manager, dtype);
            model.setThreads(device.isGpu() ? IntraOpThreads.unchanged() : IntraOpThreads.forCpu(decodeThreads));
            return model;
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * {@code auto} picks the first GPU when the engine sees one; {@code gpu} or {@code gpu:N} fail
     * clearly when there is none.
     */
    public static Device resolveDevice(String spec) {
        String s = spec == null ? "auto" : spec.trim().toLowerCase(Locale.ROOT);
        int gpus = Engine.getInstance().getGpuCount();
        if (s.equals("auto")) {
            return gpus > 0 ? Device.gpu(0) : Device.cpu();
        }
        if (s.equals("cpu")) {
            return Device.cpu();
        }
        if (s.equals("gpu") || s.startsWith("gpu:")) {
            int index;
            try {
                index = s.equals("gpu") ? 0 : Integer.parseInt(s.substring(4));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("kvlab.device: '" + spec + "' is not auto, cpu, gpu or gpu:N");
            }
            if (index >= gpus) {
                throw new IllegalArgumentException("kvlab.device: " + spec + " requested but the engine sees "
                        + gpus + " GPU(s)");
            }
            return Device.gpu(index);
        }
        throw new IllegalArgumentException("kvlab.device: '" + spec + "' is not auto, cpu, gpu or gpu:N");
    }
}

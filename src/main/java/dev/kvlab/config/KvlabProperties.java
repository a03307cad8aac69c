package dev.kvlab.config;

import ai.djl.ndarray.types.DataType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.ConstructorBinding;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import tools.jackson.core.JacksonException;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.json.JsonMapper;

/**
 * Everything under {@code kvlab.*}: which model to load and where, and the limits the server
 * enforces. Values are checked when bound, so a bad setting stops start-up with a message naming
 * the property. Environment variables bind through Spring's relaxed rules: drop the dashes and
 * replace dots by underscores, e.g. {@code KVLAB_MODEL_PATH}, {@code KVLAB_DEVICE},
 * {@code KVLAB_SERVING_MAXNEWTOKENS}, {@code KVLAB_MEMORY_LIMIT}.
 *
 * @param device {@code auto} (the first GPU when there is one, else the CPU), {@code cpu},
 *     {@code gpu} or {@code gpu:N}
 */
@ConfigurationProperties("kvlab")
public record KvlabProperties(
        @DefaultValue Model model,
        @DefaultValue("auto") String device,
        @DefaultValue Prefill prefill,
        @DefaultValue Memory memory,
        @DefaultValue Serving serving,
        @DefaultValue Security security,
        @DefaultValue Cpu cpu) {

    public KvlabProperties {
        device = device == null || device.isBlank() ? "auto" : device.trim();
    }

    /**
     * The model folder (Hugging Face layout) and its compute dtype.
     *
     * @param path the folder, relative to the working directory unless absolute
     * @param dtype {@code auto} or absent (f32 on CPU, f16 on GPU), {@code float32}/{@code f32} or
     *     {@code float16}/{@code f16}; bf16 is refused because DJL 0.36 aborts the JVM on it
     * @param id a Hugging Face Hub repo id (e.g. {@code openai-community/gpt2}); when set, the model is
     *     downloaded into {@code cacheDir} (honouring {@code HF_ENDPOINT} and {@code HF_TOKEN}) and
     *     {@code path} is ignored
     * @param cacheDir where Hub models are kept, one folder per repo
     * @param chatTemplate a Jinja chat-template file for {@code /v1/chat/completions}; it overrides
     *     the {@code chat_template} of the model's {@code tokenizer_config.json}, or supplies one
     */
    public record Model(@DefaultValue("models/kvlab-tiny") String path, String dtype, String id,
            @DefaultValue("data/hub") String cacheDir, String chatTemplate) {
        @ConstructorBinding
        public Model {
            if (path == null || path.isBlank()) {
                throw new IllegalArgumentException("kvlab.model.path must name the model folder");
            }
            dataType(dtype); // fail at binding, not at load time
            id = id == null || id.isBlank() ? null : id.trim();
            cacheDir = cacheDir == null || cacheDir.isBlank() ? "data/hub" : cacheDir;
            chatTemplate = chatTemplate == null || chatTemplate.isBlank() ? null : chatTemplate.trim();
        }

        /** A local model folder, no Hub id. */
        public Model(String path, String dtype) {
            this(path, dtype, null, "data/hub", null);
        }

        public Path dir() {
            return Path.of(path);
        }

        /** The compute dtype, or null for the device's default. */
        public DataType dataType() {
            return dataType(dtype);
        }

        private static DataType dataType(String dtype) {
            if (dtype == null || dtype.isBlank()) {
                return null;
            }
            return switch (dtype.trim().toLowerCase(Locale.ROOT)) {
                case "auto" -> null;
                case "float32", "f32", "fp32" -> DataType.FLOAT32;
                case "float16", "f16", "fp16", "half" -> DataType.FLOAT16;
                case "bfloat16", "bf16" -> throw new IllegalArgumentException(
                        "kvlab.model.dtype: bfloat16 is not supported (DJL 0.36 aborts the JVM on bf16 tensors);"
                                + " use float16 or float32");
                default -> throw new IllegalArgumentException(
                        "kvlab.model.dtype: '" + dtype + "' is not auto, float32 or float16");
            };
        }
    }

    /** @param chunk most prompt tokens per forward pass; bounds what a compressing cache holds while prefilling */
    public record Prefill(@DefaultValue("512") int chunk) {
        public Prefill {
            if (chunk < 1) {
                throw new IllegalArgumentException("kvlab.prefill.chunk must be >= 1, got " + chunk);
            }
        }
    }

    /**
     * @param limit the memory budget OOM experiments hit on CPU, and a cap on GPU (plain numbers are
     *     bytes; {@code 8GB} works too); absent means no budget
     */
    public record Memory(DataSize limit) {
        public Memory {
            if (limit != null && limit.toBytes() <= 0) {
                throw new IllegalArgumentException("kvlab.memory.limit must be > 0 bytes, got " + limit);
            }
        }
    }

    /**
     * Request limits and admission control.
     *
     * @param maxNewTokens the largest {@code max_new_tokens} a request may ask for
     * @param maxPromptTokens longer prompts are refused with 413
     * @param maxConcurrent sequences decoding together in one batch; 0 (the default) means 8 on a CPU
     *     and 32 on a GPU ({@link #maxConcurrent(boolean)})
     * @param maxQueue requests that may wait for a slot; beyond that the server answers 429
     * @param requestTimeout the longest a generation may take from arrival (queueing included)
     *     before it is cancelled and answered 503
     * @param maxBodySize larger request bodies are refused with 413 before they are parsed
     * @param maxBatchTokens most tokens one scheduler step feeds the model (a token per decoding
     *     sequence plus one prompt chunk); 0 (the default) means {@code kvlab.prefill.chunk} plus the
     *     batch size, so a whole chunk fits beside a full batch of decode rows
     * @param defaultKvCache the {@code kv_cache} of requests that send none, as a JSON object such as
     *     {@code {"policy": "h2o", "budget": 256}}; unset means {@code full}. It lets clients that
     *     cannot send the extension field (evaluation harnesses, plain OpenAI tools) run under a policy
     */
    public record Serving(
            @DefaultValue("1024") int maxNewTokens,
            @DefaultValue("8192") int maxPromptTokens,
            @DefaultValue("0") int maxConcurrent,
            @DefaultValue("16") int maxQueue,
            @DefaultValue("300s") Duration requestTimeout,
            @DefaultValue("1MB") DataSize maxBodySize,
            @DefaultValue("0") int maxBatchTokens,
            String defaultKvCache) {
        /** Batch size on a CPU when {@code max-concurrent} is not set. */
        public static final int CPU_BATCH = 8;
        /** Batch size on a GPU when {@code max-concurrent} is not set: a decode step there is far from compute-bound at 8. */
        public static final int GPU_BATCH = 32;

        @ConstructorBinding
        public Serving {
            requireAtLeast("kvlab.serving.max-new-tokens", maxNewTokens, 1);
            requireAtLeast("kvlab.serving.max-prompt-tokens", maxPromptTokens, 1);
            requireAtLeast("kvlab.serving.max-concurrent", maxConcurrent, 0);
            requireAtLeast("kvlab.serving.max-batch-tokens", maxBatchTokens, 0);
            requireAtLeast("kvlab.serving.max-queue", maxQueue, 0);
            if (requestTimeout == null || requestTimeout.isNegative() || requestTimeout.isZero()) {
                throw new IllegalArgumentException("kvlab.serving.request-timeout must be > 0, got " + requestTimeout);
            }
            if (maxBodySize == null || maxBodySize.toBytes() <= 0) {
                throw new IllegalArgumentException("kvlab.serving.max-body-size must be > 0 bytes, got " + maxBodySize);
            }
            defaultKvCache = defaultKvCache == null || defaultKvCache.isBlank() ? null : defaultKvCache.trim();
            defaultKvCache(defaultKvCache); // fail at binding, not at the first request
        }

        /** The limits with the default step size and cache policy. */
        public Serving(int maxNewTokens, int maxPromptTokens, int maxConcurrent, int maxQueue, Duration requestTimeout,
                DataSize maxBodySize, int maxBatchTokens) {
            this(maxNewTokens, maxPromptTokens, maxConcurrent, maxQueue, requestTimeout, maxBodySize, maxBatchTokens,
                    null);
        }

        /** The {@code kv_cache} of requests that send none, or null for {@code full}. */
        public Map<String, Object> defaultKvCacheParams() {
            return defaultKvCache(defaultKvCache);
        }

        private static Map<String, Object> defaultKvCache(String json) {
            if (json == null) {
                return null;
            }
            try {
                Map<String, Object> map = JsonMapper.shared().readValue(json, new TypeReference<Map<String, Object>>() {});
                if (map == null) {
                    throw new IllegalArgumentException("kvlab.serving.default-kv-cache must be a JSON object, got " + json);
                }
                return map;
            } catch (JacksonException e) {
                throw new IllegalArgumentException("kvlab.serving.default-kv-cache must be a JSON object such as"
                        + " {\"policy\": \"h2o\", \"budget\": 256}, got " + json + ": " + e.getOriginalMessage());
            }
        }

        /** The limits with the default request timeout (300 s) and body size (1 MB). */
        public Serving(int maxNewTokens, int maxPromptTokens, int maxConcurrent, int maxQueue) {
            this(maxNewTokens, maxPromptTokens, maxConcurrent, maxQueue, Duration.ofSeconds(300),
                    DataSize.ofMegabytes(1), 0);
        }

        /** The limits with the default step size. */
        public Serving(int maxNewTokens, int maxPromptTokens, int maxConcurrent, int maxQueue, Duration requestTimeout,
                DataSize maxBodySize) {
            this(maxNewTokens, maxPromptTokens, maxConcurrent, maxQueue, requestTimeout, maxBodySize, 0);
        }

        /** The batch size: {@code max-concurrent}, or the device's default when it is 0. */
        public int maxConcurrent(boolean gpu) {
            return maxConcurrent > 0 ? maxConcurrent : gpu ? GPU_BATCH : CPU_BATCH;
        }

        /**
         * The step size: {@code max-batch-tokens}, or a prefill chunk plus the batch when it is 0.
         *
         * @throws IllegalArgumentException when it leaves no room for a prompt beside a full batch
         */
        public int maxBatchTokens(int batch, int prefillChunk) {
            int tokens = maxBatchTokens > 0 ? maxBatchTokens : prefillChunk + batch;
            if (tokens <= batch) {
                throw new IllegalArgumentException("kvlab.serving.max-batch-tokens (" + tokens
                        + ") must exceed the batch size (" + batch + "), or prompts would never be prefilled");
            }
            return tokens;
        }
    }

    /**
     * @param apiKey when set (and not blank), every endpoint but {@code /actuator/health} and
     *     {@code /actuator/prometheus} needs {@code Authorization: Bearer <apiKey>}
     */
    public record Security(String apiKey) {
        public Security {
            apiKey = apiKey == null || apiKey.isBlank() ? null : apiKey.trim();
        }
    }

    private static void requireAtLeast(String property, int value, int min) {
        if (value < min) {
            throw new IllegalArgumentException(property + " must be >= " + min + ", got " + value);
        }
    }

    /**
     * CPU execution.
     *
     * @param decodeThreads PyTorch intra-op threads for a single-token decode step (prefill chunks
     *     use PyTorch's configured count, by default the core count); 0 means the same as prefill.
     *     One is the default because a decode step is hundreds of small memory-bound ops, and on the
     *     2-core development machine one thread measures faster than two, batched or not
     *     (docs/batching.md).
     */
    public record Cpu(@DefaultValue("1") int decodeThreads) {
        public Cpu {
            if (decodeThreads < 0) {
                throw new IllegalArgumentException("kvlab.cpu.decode-threads must be 0 (as prefill) or positive, got "
                        + decodeThreads);
            }
        }
    }
}

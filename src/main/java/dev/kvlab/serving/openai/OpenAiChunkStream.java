package dev.kvlab.serving.openai;

import dev.kvlab.generation.TokenLogprob;
import dev.kvlab.serving.generate.EventStreams;
import dev.kvlab.serving.generate.GenerateResponse;
import dev.kvlab.serving.generate.GenerationSink;
import dev.kvlab.serving.web.ApiException;
import dev.kvlab.tokenizer.TextTokenizer;
import java.io.IOException;
import org.springframework.http.MediaType;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

/**
 * A generation streamed the OpenAI way: JSON chunks as server-sent events, the usage chunk last when
 * the request asked for it ({@code stream_options.include_usage}), then {@code [DONE]}; a failure is
 * an OpenAI error event. Completions and chat completions differ only in their chunks.
 */
abstract class OpenAiChunkStream implements GenerationSink {
    private final SseEmitter emitter;
    protected final String id;
    protected final long created;
    protected final String model;
    protected final TextTokenizer tokenizer;
    private final boolean includeUsage;

    OpenAiChunkStream(SseEmitter emitter, String id, long created, String model, boolean includeUsage,
            TextTokenizer tokenizer) {
        this.emitter = emitter;
        this.id = id;
        this.created = created;
        this.model = model;
        this.includeUsage = includeUsage;
        this.tokenizer = tokenizer;
    }

    @Override
    public final void token(int tokenId, String text) throws IOException {
        token(tokenId, text, null);
    }

    @Override
    public abstract void token(int tokenId, String text, TokenLogprob logprob) throws IOException;

    @Override
    public void failed(ApiException problem) throws IOException {
        EventStreams.failOpenAi(emitter, problem);
    }

    /** The chunk that reports the token counts of a finished generation. */
    protected abstract Object usageChunk(GenerateResponse response);

    /** Sends the last chunk, the usage chunk when the request asked for it, and {@code [DONE]}. */
    protected final void finish(Object lastChunk, GenerateResponse response) throws IOException {
        send(lastChunk);
        if (includeUsage) {
            send(usageChunk(response));
        }
        EventStreams.doneOpenAi(emitter);
    }

    protected final void send(Object chunk) throws IOException {
        EventStreams.send(emitter, SseEmitter.event().data(chunk, MediaType.APPLICATION_JSON));
    }
}

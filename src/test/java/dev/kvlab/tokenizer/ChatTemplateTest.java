package dev.kvlab.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real chat templates rendered to the exact prompts transformers' {@code apply_chat_template} gives
 * (expected strings derived by hand from each template). The fixtures under
 * {@code src/test/resources/chat-templates/} hold {@code chat_template}, {@code bos_token} and
 * {@code eos_token} as the Hugging Face Hub publishes them; the Hub is not reachable from the build,
 * so each was copied from a repository that vendors or quotes it:
 * <ul>
 *   <li>meta-llama/Meta-Llama-3-8B-Instruct: template from guidance-ai/guidance {@code guidance/chat.py}
 *       ({@code llama3_template}, quoting the Hub file's line 2053), identical to argilla-io/distilabel's
 *       {@code MAGPIE_TEMPLATES}; eos {@code <|eot_id|>} as Meta set it on 2024-05-10
 *       (axolotl-ai-cloud/axolotl pull request 1553).
 *   <li>Qwen/Qwen2.5-0.5B-Instruct: guidance-ai/guidance {@code guidance/chat.py}
 *       ({@code qwen2dot5_it_template}, from Hub commit 7ae5576), identical to huggingface/huggingface.js
 *       {@code packages/jinja/test/e2e.test.js} ("Qwen/Qwen2.5-7B-Instruct").
 *   <li>mistralai/Mistral-7B-Instruct-v0.3: the current v3 template (tool calls, namespace-based role
 *       check), copied from two independent quotations that agree character for character: a
 *       llama-cpp-python preset for lmstudio-community/Mistral-7B-Instruct-v0.3-GGUF (whose GGUF carries
 *       the Hub template) and a Python test labelled "Mistral 7B Instruct v0.3's"; bos {@code <s>}, eos
 *       {@code </s>}.
 *   <li>HuggingFaceTB/SmolLM2-135M-Instruct: the Hub file vendored in biom8er/phymes
 *       ({@code .cache/hf/models--HuggingFaceTB--SmolLM2-135M-Instruct/tokenizer_config.json}).
 * </ul>
 */
class ChatTemplateTest {

    private static final List<ChatMessage> SYSTEM_AND_USER = List.of(
            new ChatMessage("system", "You are a helpful assistant."),
            new ChatMessage("user", "What is the capital of France?"));

    private static final List<ChatMessage> USER_ASSISTANT_USER = List.of(
            new ChatMessage("user", "Hello"),
            new ChatMessage("assistant", "Hi there!"),
            new ChatMessage("user", "How are you?"));

    @Test
    void llama3() {
        ChatTemplate llama = fixture("meta-llama-3-8b-instruct");

        assertThat(llama.render(SYSTEM_AND_USER, true)).isEqualTo("<|begin_of_text|>"
                + "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n");
        assertThat(llama.render(USER_ASSISTANT_USER, false)).isEqualTo("<|begin_of_text|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHi there!<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>");
    }

    @Test
    void llama3TrimsEachMessageButNotTheHeader() {
        // '<|end_header_id|>\n\n'+ message['content'] | trim: the filter binds tighter than +
        String prompt = fixture("meta-llama-3-8b-instruct").render(List.of(new ChatMessage("user", "  Hi \n")), false);

        assertThat(prompt).isEqualTo("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
    }

    @Test
    void qwen25() {
        ChatTemplate qwen = fixture("qwen2.5-0.5b-instruct");

        assertThat(qwen.render(SYSTEM_AND_USER, true)).isEqualTo(
                "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
                + "<|im_start|>assistant\n");
        assertThat(qwen.render(USER_ASSISTANT_USER, false)).isEqualTo(
                "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nHello<|im_end|>\n"
                + "<|im_start|>assistant\nHi there!<|im_end|>\n"
                + "<|im_start|>user\nHow are you?<|im_end|>\n");
    }

    @Test
    void mistralV03() {
        ChatTemplate mistral = fixture("mistral-7b-instruct-v0.3");

        // the system message goes into the last user turn; the template has no generation prompt
        assertThat(mistral.render(SYSTEM_AND_USER, true))
                .isEqualTo("<s>[INST] You are a helpful assistant.\n\nWhat is the capital of France?[/INST]");
        assertThat(mistral.render(USER_ASSISTANT_USER, false))
                .isEqualTo("<s>[INST] Hello[/INST] Hi there!</s>[INST] How are you?[/INST]");
    }

    @Test
    void smolLm2() {
        ChatTemplate smol = fixture("smollm2-135m-instruct");

        assertThat(smol.render(SYSTEM_AND_USER, true)).isEqualTo(
                "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
                + "<|im_start|>assistant\n");
        assertThat(smol.render(USER_ASSISTANT_USER, false)).isEqualTo(
                "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                + "<|im_start|>user\nHello<|im_end|>\n"
                + "<|im_start|>assistant\nHi there!<|im_end|>\n"
                + "<|im_start|>user\nHow are you?<|im_end|>\n");
    }

    @Test
    void raiseExceptionCarriesTheTemplatesMessage() {
        List<ChatMessage> twoUsers = List.of(new ChatMessage("user", "a"), new ChatMessage("user", "b"));

        assertThatThrownBy(() -> fixture("mistral-7b-instruct-v0.3").render(twoUsers, true))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessage("After the optional system message, conversation roles must alternate "
                        + "user/assistant/user/assistant/...");
    }

    @Test
    void endOfTurnMarkers() {
        assertThat(fixture("meta-llama-3-8b-instruct").endOfTurnMarkers()).containsExactly("<|eot_id|>");
        assertThat(fixture("qwen2.5-0.5b-instruct").endOfTurnMarkers()).containsExactly("<|im_end|>");
        assertThat(fixture("mistral-7b-instruct-v0.3").endOfTurnMarkers()).containsExactly("</s>");
        assertThat(ChatTemplate.of("{{ '<|im_end|><|eot_id|></s>' }}", null, "</s>").endOfTurnMarkers())
                .containsExactly("</s>", "<|eot_id|>", "<|im_end|>");
    }

    @Test
    void folderWithoutTemplateIsEmpty(@TempDir Path dir) throws IOException {
        assertThat(ChatTemplate.fromModelFolder(dir)).isEmpty();

        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\", \"chat_template\": null}");
        assertThat(ChatTemplate.fromModelFolder(dir)).isEmpty();
    }

    @Test
    void namedTemplatesUseDefaultAndTokensMayBeObjects(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false},
                 "eos_token": {"__type": "AddedToken", "content": "</s>"},
                 "chat_template": [
                   {"name": "tool_use", "template": "tools"},
                   {"name": "default", "template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"}]}
                """);

        ChatTemplate template = ChatTemplate.fromModelFolder(dir).orElseThrow();

        assertThat(template.render(List.of(new ChatMessage("user", "hi")), true)).isEqualTo("<s>hi</s>");
    }

    @Test
    void namedTemplatesWithoutDefaultAreRejected(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"x\"}]}");

        assertThatThrownBy(() -> ChatTemplate.fromModelFolder(dir))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessageContaining("no template named 'default'")
                .hasMessageContaining("tool_use");
    }

    @Test
    void chatTemplateJinjaInTheFolderComesFirst(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"<E>\", \"chat_template\": \"old\"}");
        Files.writeString(dir.resolve("chat_template.jinja"), "new{{ eos_token }}");

        assertThat(ChatTemplate.fromModelFolder(dir).orElseThrow().render(List.of(), false)).isEqualTo("new<E>");
    }

    @Test
    void templateFileReplacesTheFoldersButKeepsItsTokens(@TempDir Path dir) throws IOException {
        Path model = fixturePath("meta-llama-3-8b-instruct");
        Path file = Files.writeString(dir.resolve("chat.jinja"),
                "{{ bos_token }}[{{ messages[0].content }}]{{ eos_token }}");

        ChatTemplate template = ChatTemplate.fromFile(file, model);

        assertThat(template.render(List.of(new ChatMessage("user", "q")), true))
                .isEqualTo("<|begin_of_text|>[q]<|eot_id|>");
        assertThatThrownBy(() -> ChatTemplate.fromFile(dir.resolve("missing.jinja"), model))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessageContaining("missing.jinja");
    }

    @Test
    void loopControlsAndNamespace() {
        ChatTemplate template = ChatTemplate.of("""
                {%- set ns = namespace(count=0, last='') %}
                {%- for message in messages %}
                    {%- if message.role == 'system' %}{% continue %}{% endif %}
                    {%- if message.content == 'stop' %}{% break %}{% endif %}
                    {%- set ns.count = ns.count + 1 %}
                    {%- set ns.last = message.content %}
                    {{- loop.index0 ~ ':' + message.content + (',' if not loop.last else '') }}
                {%- endfor %}
                {{- ' count=' ~ ns.count ~ ' last=' ~ ns.last }}
                """, null, null);
        List<ChatMessage> messages = List.of(new ChatMessage("system", "s"), new ChatMessage("user", "a"),
                new ChatMessage("assistant", "b"), new ChatMessage("user", "stop"), new ChatMessage("user", "c"));

        assertThat(template.render(messages, false)).isEqualTo("1:a,2:b, count=2 last=b");
    }

    @Test
    void pythonExpressionsTemplatesUse() {
        ChatTemplate template = ChatTemplate.of("""
                {{- messages[1:] | length }}|{{ messages[0].content.strip() }}|{{ messages[0].content.strip(' x') }}
                {{- '|' ~ ('Y' if messages[1].content.startswith('<tool') else 'N') }}
                {{- '|' ~ ('Y' if messages[1].content.endswith('x') else 'N') }}
                {{- '|' ~ ('r</think>a'.split('</think>') | length) ~ '[' ~ 'a</think>'.split('</think>')[-1] ~ ']' }}
                {{- '|' ~ ('Y' if undefined_name is defined else 'N') ~ ('Y' if messages is defined else 'N') }}
                {{- '|' ~ {'a': {}, 'b': [1, 'x', none, true]} | tojson }}|{{ {'k': 'ü\\n'} | tojson(indent=2) }}
                {{- '|' ~ messages[1] | tojson }}
                """, null, null);
        List<ChatMessage> messages = List.of(new ChatMessage("system", " x hi x "), new ChatMessage("user", "<tool>"));

        assertThat(template.render(messages, false)).isEqualTo("1|x hi x|hi|Y|N|2[]|NY"
                + "|{\"a\": {}, \"b\": [1, \"x\", null, true]}|{\n  \"k\": \"ü\\n\"\n}"
                + "|{\"role\": \"user\", \"content\": \"<tool>\"}");
    }

    @Test
    void dropsOneTrailingNewlineLikeJinja() {
        assertThat(ChatTemplate.of("{{ 'x' }}\n", null, null).render(List.of(), false)).isEqualTo("x");
        assertThat(ChatTemplate.of("x\n\n", null, null).render(List.of(), false)).isEqualTo("x\n");
    }

    @Test
    void strftimeNowFormatsTheCurrentDate() {
        String year = String.valueOf(LocalDate.now().getYear());

        assertThat(ChatTemplate.of("{{ strftime_now('%Y') }}", null, null).render(List.of(), false)).isEqualTo(year);
        assertThat(Strftime.format("%d %b %Y, %-d %B, %H:%M %p %%", LocalDateTime.of(2024, 7, 6, 15, 4)))
                .isEqualTo("06 Jul 2024, 6 July, 15:04 PM %");
    }

    @Test
    void renderingErrorsNameTheProblem() {
        List<ChatMessage> one = List.of(new ChatMessage("user", "hi"));

        assertThatThrownBy(() -> ChatTemplate.of("{{ messages[0].content.nosuch() }}", null, null).render(one, false))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessageContaining("line 1")
                .hasMessageContaining("nosuch");
        assertThatThrownBy(() -> ChatTemplate.of("{% include 'secrets.txt' %}", null, null).render(one, false))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessageContaining("secrets.txt");
        assertThatThrownBy(() -> ChatTemplate.of("{{ strftime_now('%Q') }}", null, null).render(one, false))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessage("strftime directive %Q is not supported");
    }

    @Test
    void rendersConcurrently() throws Exception {
        ChatTemplate qwen = fixture("qwen2.5-0.5b-instruct");
        String expected = qwen.render(USER_ASSISTANT_USER, true);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<String>> prompts = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                prompts.add(pool.submit(() -> qwen.render(USER_ASSISTANT_USER, true)));
            }
            for (Future<String> prompt : prompts) {
                assertThat(prompt.get()).isEqualTo(expected);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static ChatTemplate fixture(String model) {
        return ChatTemplate.fromModelFolder(fixturePath(model)).orElseThrow();
    }

    private static Path fixturePath(String model) {
        try {
            return Path.of(ChatTemplateTest.class.getResource("/chat-templates/" + model).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}

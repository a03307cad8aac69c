package dev.kvlab.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.io.IOException;
import java.lang.reflect.Method;
import java.util.Map;
import jinjava.javax.el.CompositeELResolver;

/**
 * Jinjava set up to render Hugging Face chat templates the way transformers' {@code apply_chat_template}
 * does: {@code trim_blocks} and {@code lstrip_blocks}, <code>{{- x -}}</code> trimming on expressions,
 * Python operator precedence and iteration over dict keys, plus the globals transformers adds
 * ({@code raise_exception}, {@code strftime_now}, its {@code tojson}) and Python string methods.
 * Templates cannot include, import or extend other files: a model folder's template reads nothing else.
 *
 * <p>Thread-safe: every render gets its own interpreter; the shared instance is only configured here.
 */
final class JinjaEnvironment {

    /** Jinjava's defaults keep its historical behaviour; each of these is Jinja's (Python) behaviour. */
    private static final LegacyOverrides JINJA_SEMANTICS = LegacyOverrides.newBuilder()
            .withUseTrimmingForNotesAndExpressions(true) // {{- x -}} and {#- c -#} trim like {%- -%}
            .withParseWhitespaceControlStrictly(true) // only a '-' touching the delimiter trims
            .withUseNaturalOperatorPrecedence(true) // 'a' + b | trim applies trim to b only
            .withEvaluateMapKeys(true) // {key: 1} uses the variable key's value
            .withIterateOverMapKeys(true) // {% for k in dict %} yields keys
            .withKeepNullableLoopValues(true) // none items are iterated, not skipped
            .withUsePyishObjectMapper(true) // {{ list }} prints ['a', 'b']
            .build();

    private final Jinjava jinjava;

    JinjaEnvironment() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonStringMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        jinjava = new Jinjava(JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withLegacyOverrides(JINJA_SEMANTICS)
                .withElResolver(resolver)
                .build());
        jinjava.setResourceLocator((name, encoding, interpreter) -> {
            throw new IOException("chat templates cannot load other templates ('" + name + "')");
        });
        jinjava.getGlobalContext().registerFunction(
                function("raise_exception", JinjaEnvironment.class, "raiseException", Object.class));
        jinjava.getGlobalContext().registerFunction(function("strftime_now", Strftime.class, "now", String.class));
        jinjava.getGlobalContext().registerFilter(new TojsonFilter());
    }

    /**
     * Renders {@code template} with {@code bindings} as its variables.
     *
     * @throws ChatTemplateException the template's own message when it called {@code raise_exception};
     *     otherwise the first error, with its line
     */
    String render(String template, Map<String, Object> bindings) {
        RenderResult result;
        try {
            result = jinjava.renderForResult(withoutTrailingNewline(template), bindings);
        } catch (RuntimeException e) {
            throw failure(e, "chat template failed: " + e.getMessage());
        }
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                String problem = error.getMessage() != null ? error.getMessage() : String.valueOf(error.getException());
                throw failure(error.getException(),
                        "chat template failed at line " + error.getLineno() + ": " + problem);
            }
        }
        return result.getOutput();
    }

    /** Jinja drops one newline at the end of a template ({@code keep_trailing_newline=False}); Jinjava keeps it. */
    private static String withoutTrailingNewline(String template) {
        if (template.endsWith("\r\n")) {
            return template.substring(0, template.length() - 2);
        }
        boolean endsWithNewline = template.endsWith("\n") || template.endsWith("\r");
        return endsWithNewline ? template.substring(0, template.length() - 1) : template;
    }

    /** {@code raise_exception(msg)}: transformers raises a TemplateError carrying {@code msg}. */
    static String raiseException(Object message) {
        throw new ChatTemplateException(String.valueOf(message));
    }

    private static ChatTemplateException failure(Throwable error, String message) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof ChatTemplateException raised) {
                return raised;
            }
        }
        return new ChatTemplateException(message, error);
    }

    private static ELFunctionDefinition function(String name, Class<?> owner, String methodName,
            Class<?> parameterType) {
        try {
            Method method = owner.getDeclaredMethod(methodName, parameterType);
            method.setAccessible(true); // package-private classes: Jinjava calls them reflectively
            return new ELFunctionDefinition("", name, method);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }
}

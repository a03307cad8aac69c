package dev.kvlab.experiment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.RETURNS_DEEP_STUBS;
import static org.mockito.Mockito.mock;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

/**
 * The console's experiment forms ({@code static/console/kinds.js}) offer every kind the server runs,
 * with the defaults the server's kinds resolve when a request leaves a parameter out: a default
 * changed on one side only fails here.
 */
class ConsoleKindsTest {
    private static final Path KINDS_JS = Path.of("src/main/resources/static/console/kinds.js");
    private static final Pattern KIND = Pattern.compile("^  '?([a-z-]+)'?: \\[$");
    private static final Pattern FIELD = Pattern.compile("\\{ name: '([a-z_]+)', type: '\\w+', value: (.+?)(?:, (?:help|options): .*)? \\},?$");

    /** Kind → (parameter → default) for the fields the form fills in. */
    private static Map<String, Map<String, Object>> formDefaults() throws IOException {
        Map<String, Map<String, Object>> kinds = new LinkedHashMap<>();
        Map<String, Object> current = null;
        JsonMapper json = JsonMapper.builder().build();
        for (String line : Files.readAllLines(KINDS_JS)) {
            Matcher k = KIND.matcher(line);
            if (k.matches()) {
                current = new LinkedHashMap<>();
                kinds.put(k.group(1), current);
                continue;
            }
            Matcher f = FIELD.matcher(line.trim());
            if (current != null && f.matches()) {
                current.put(f.group(1), json.readValue(f.group(2).replace('\'', '"'), Object.class));
            }
        }
        return kinds;
    }

    @Test
    void theFormsOfferEveryKindWithTheServersDefaults() throws IOException {
        Map<String, Map<String, Object>> forms = formDefaults();
        ExperimentKinds kinds = ExperimentKinds.of(mock(ExperimentEngine.class, RETURNS_DEEP_STUBS), Integer.MAX_VALUE);
        assertThat(forms.keySet()).containsExactlyInAnyOrderElementsOf(kinds.names());
        for (String name : kinds.names()) {
            ExperimentParams params = new ExperimentParams(new LinkedHashMap<>());
            kinds.find(name).orElseThrow().plan(params, List.of(Map.of("policy", "full")));
            Map<String, Object> resolved = params.resolved();
            assertThat(forms.get(name)).as(name).isNotEmpty();
            forms.get(name).forEach((field, value) -> assertThat(normalized(resolved.get(field)))
                    .as("%s.%s", name, field).isEqualTo(normalized(value)));
        }
    }

    /** Numbers compare by value, whatever their Java type. */
    private static Object normalized(Object value) {
        if (value instanceof Number n) {
            return n.doubleValue();
        }
        if (value instanceof List<?> list) {
            return list.stream().map(ConsoleKindsTest::normalized).toList();
        }
        return value;
    }
}

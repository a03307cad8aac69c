package dev.kvlab.cache.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PolicyRegistryTest {

    @Test
    void absentOrEmptySpecMeansFull() {
        assertThat(PolicyRegistry.create(null).name()).isEqualTo("full");
        assertThat(PolicyRegistry.create(Map.of()).name()).isEqualTo("full");
        Map<String, Object> nullPolicy = new HashMap<>();
        nullPolicy.put("policy", null);
        assertThat(PolicyRegistry.create(nullPolicy).name()).isEqualTo("full");
    }

    @Test
    void fullIsUnboundedAndFreshPerCall() {
        CachePolicy a = PolicyRegistry.create(Map.of("policy", "full"));
        assertThat(a).isInstanceOf(FullPolicy.class);
        assertThat(a.isBounded()).isFalse();
        assertThat(a.params()).isEmpty();
        assertThat(PolicyRegistry.create(Map.of("policy", "full"))).isNotSameAs(a);
    }

    @Test
    void unknownPolicyNamesThePolicyFieldAndListsTheKnownOnes() {
        assertThatThrownBy(() -> PolicyRegistry.create(Map.of("policy", "h2o")))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.field()).isEqualTo("policy"))
                .hasMessageContaining("h2o")
                .hasMessageContaining("full");
        assertThatThrownBy(() -> PolicyRegistry.create(Map.of("policy", "FULL")))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.field()).isEqualTo("policy"));
    }

    @Test
    void policyMustBeAString() {
        assertThatThrownBy(() -> PolicyRegistry.create(Map.of("policy", 3)))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.field()).isEqualTo("policy"));
    }

    @Test
    void fullRejectsAnyParameterNamingIt() {
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("policy", "full");
        spec.put("budget", 256);
        spec.put("sinks", 4);
        assertThatThrownBy(() -> PolicyRegistry.create(spec))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.field()).isEqualTo("budget"))
                .hasMessageContaining("no parameters");
    }
}

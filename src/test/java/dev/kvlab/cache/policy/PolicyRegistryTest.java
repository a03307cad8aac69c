package dev.kvlab.cache.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import dev.kvlab.cache.RopeMode;
import dev.kvlab.model.Architecture;
import java.math.BigInteger;
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
        assertThat(a.hasFixedBudget()).isFalse();
        assertThat(a.params()).isEmpty();
        assertThat(PolicyRegistry.create(Map.of("policy", "full"))).isNotSameAs(a);
    }

    @Test
    void unknownPolicyNamesThePolicyFieldAndListsTheKnownOnes() {
        assertThatThrownBy(() -> PolicyRegistry.create(Map.of("policy", "h3o", "budget", 64)))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.field()).isEqualTo("policy"))
                .hasMessageContaining("h3o")
                .hasMessageContaining("full, streaming, h2o, tova, entropy-merge, random");
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

    private static Map<String, Object> spec(Object... keyValues) {
        Map<String, Object> spec = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            spec.put((String) keyValues[i], keyValues[i + 1]);
        }
        return spec;
    }

    private static void assertRejected(Map<String, Object> spec, String field, String messagePart) {
        assertRejected(spec, Architecture.LLAMA, field, messagePart);
    }

    private static void assertRejected(Map<String, Object> spec, Architecture arch, String field, String messagePart) {
        assertThatThrownBy(() -> PolicyRegistry.create(spec, arch))
                .as("%s", spec)
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.field()).isEqualTo(field))
                .hasMessageContaining(messagePart);
    }

    @Test
    void defaultsAreResolvedAndEchoedAsParameters() {
        assertThat(PolicyRegistry.create(spec("policy", "streaming", "budget", 64)).params())
                .containsExactly(entry("budget", 64), entry("sinks", 4), entry("rope", "cache-index"));
        assertThat(PolicyRegistry.create(spec("policy", "h2o", "budget", 64)).params())
                .containsExactly(entry("budget", 64), entry("sinks", 0), entry("recent", 32), entry("rope", "original"));
        assertThat(PolicyRegistry.create(spec("policy", "tova", "budget", 64)).params())
                .containsExactly(entry("budget", 64), entry("sinks", 0), entry("recent", 0), entry("rope", "original"));
        assertThat(PolicyRegistry.create(spec("policy", "entropy-merge", "budget", 64)).params())
                .containsExactly(entry("budget", 64), entry("sinks", 4), entry("recent", 16), entry("rope", "original"),
                        entry("priority", "entropy"), entry("similarity", 0.0));
        assertThat(PolicyRegistry.create(spec("policy", "random", "budget", 64)).params())
                .containsExactly(entry("budget", 64), entry("sinks", 4), entry("recent", 16), entry("rope", "original"),
                        entry("seed", 0L));
        assertThat(PolicyRegistry.create(spec("policy", "h2o", "budget_ratio", 0.5, "recent", 8)).params())
                .containsExactly(entry("budget_ratio", 0.5), entry("sinks", 0), entry("recent", 8), entry("rope", "original"));
    }

    @Test
    void explicitParametersWinAndJsonNumbersOfAnyIntegralTypeAreAccepted() {
        CachePolicy p = PolicyRegistry.create(spec("policy", "entropy-merge", "budget", 128L, "sinks", 2.0,
                "recent", new BigInteger("10"), "rope", "cache-index", "priority", "attention", "similarity", 0.5));
        assertThat(p).isInstanceOf(EntropyMergePolicy.class);
        assertThat(p.params()).containsExactly(entry("budget", 128), entry("sinks", 2), entry("recent", 10),
                entry("rope", "cache-index"), entry("priority", "attention"), entry("similarity", 0.5));
        assertThat(p.ropeMode()).isEqualTo(RopeMode.CACHE_INDEX);
        assertThat(p.hasFixedBudget()).isTrue();
        assertThat(p.maxSlots()).isEqualTo(128);
        assertThat(p.observesAttention()).isTrue();
    }

    @Test
    void everyPolicyNameBuildsItsClass() {
        assertThat(PolicyRegistry.names()).containsExactly("full", "streaming", "h2o", "tova", "entropy-merge", "random",
                "snapkv", "pyramidkv", "knorm");
        assertThat(PolicyRegistry.create(spec("policy", "streaming", "budget", 8))).isInstanceOf(StreamingPolicy.class);
        assertThat(PolicyRegistry.create(spec("policy", "h2o", "budget", 8))).isInstanceOf(H2oPolicy.class);
        assertThat(PolicyRegistry.create(spec("policy", "tova", "budget", 8))).isInstanceOf(TovaPolicy.class);
        assertThat(PolicyRegistry.create(spec("policy", "pyramidkv", "budget", 40))).isInstanceOf(PyramidKvPolicy.class);
        assertThat(PolicyRegistry.create(spec("policy", "random", "budget", 8))).isInstanceOf(RandomPolicy.class);
    }

    @Test
    void ratioBudgetsFollowTheTokensSeenButNeverGoBelowTheProtectedSlots() {
        BoundedPolicy p = (BoundedPolicy) PolicyRegistry.create(spec("policy", "h2o", "budget_ratio", 0.25, "sinks", 2,
                "recent", 3));
        assertThat(p.hasFixedBudget()).isFalse();
        assertThat(p.maxSlots()).isEqualTo(Integer.MAX_VALUE);
        assertThat(p.budgetAt(1000)).isEqualTo(250);
        assertThat(p.budgetAt(1001)).isEqualTo(251);
        assertThat(p.budgetAt(4)).isEqualTo(6); // sinks + recent + 1
        BoundedPolicy whole = (BoundedPolicy) PolicyRegistry.create(spec("policy", "entropy-merge", "budget_ratio", 1));
        assertThat(whole.budgetAt(777)).isEqualTo(777);
        assertThat(whole.budgetAt(2)).isEqualTo(6); // sinks 4 + recent 6/4 + 1
    }

    @Test
    void budgetErrorsNameTheBudgetField() {
        assertRejected(spec("policy", "h2o"), "budget", "required");
        assertRejected(spec("policy", "pyramidkv", "budget", 64, "beta", 0.5), "beta", "at least 1");
        assertRejected(spec("policy", "h2o", "budget", 64.5), "budget", "integer");
        assertRejected(spec("policy", "h2o", "budget", "64"), "budget", "integer");
        assertRejected(spec("policy", "h2o", "budget", 0), "budget", "at least 1");
        assertRejected(spec("policy", "h2o", "budget", 1L << 40), "budget", "at least 1");
        assertRejected(spec("policy", "streaming", "budget", 4), "budget", "larger than sinks (4)");
        assertRejected(spec("policy", "h2o", "budget", 20, "sinks", 4, "recent", 16), "budget",
                "larger than sinks (4) + recent (16) = 20");
        assertRejected(spec("policy", "entropy-merge", "budget", 5), "budget", "sinks (4) + recent (1)");
        PolicyRegistry.create(spec("policy", "entropy-merge", "budget", 6));
        PolicyRegistry.create(spec("policy", "streaming", "budget", 5));
    }

    @Test
    void budgetRatioErrorsNameTheRatioField() {
        assertRejected(spec("policy", "h2o", "budget", 64, "budget_ratio", 0.5), "budget_ratio", "not both");
        assertRejected(spec("policy", "h2o", "budget_ratio", 0), "budget_ratio", "(0, 1]");
        assertRejected(spec("policy", "h2o", "budget_ratio", 1.5), "budget_ratio", "(0, 1]");
        assertRejected(spec("policy", "h2o", "budget_ratio", "half"), "budget_ratio", "number");
    }

    @Test
    void parametersOfOtherPoliciesAreRejectedAsNotApplicable() {
        assertRejected(spec("policy", "h2o", "budget", 64, "priority", "entropy"), "priority", "does not apply");
        assertRejected(spec("policy", "streaming", "budget", 64, "recent", 8), "recent", "does not apply");
        assertRejected(spec("policy", "tova", "budget", 64, "seed", 1), "seed", "does not apply");
        assertRejected(spec("policy", "random", "budget", 64, "similarity", 0.5), "similarity", "does not apply");
        assertRejected(spec("policy", "full", "rope", "original"), "rope", "no parameters");
        assertRejected(spec("policy", "h2o", "budget", 64, "windw", 8), "windw", "takes only budget, budget_ratio");
    }

    @Test
    void valueErrorsNameTheirField() {
        assertRejected(spec("policy", "h2o", "budget", 64, "rope", "yarn"), "rope", "cache-index, original");
        assertRejected(spec("policy", "entropy-merge", "budget", 64, "priority", "norm"), "priority", "attention, entropy");
        assertRejected(spec("policy", "entropy-merge", "budget", 64, "similarity", 1.5), "similarity", "[-1, 1]");
        assertRejected(spec("policy", "entropy-merge", "budget", 64, "similarity", "high"), "similarity", "number");
        assertRejected(spec("policy", "h2o", "budget", 64, "sinks", -1), "sinks", "at least 0");
        assertRejected(spec("policy", "h2o", "budget", 64, "recent", 2.5), "recent", "integer");
        assertRejected(spec("policy", "random", "budget", 64, "seed", 0.5), "seed", "integer");
        assertRejected(spec("policy", "h2o", "budget", 64, "compact_every", 0), "compact_every", "between 1 and 1024");
        assertRejected(spec("policy", "h2o", "budget", 64, "compact_every", 1025), "compact_every", "between 1 and 1024");
        assertRejected(spec("policy", "h2o", "budget", 64, "compact_every", 2.5), "compact_every", "integer");
        assertRejected(spec("policy", "full", "compact_every", 4), "compact_every", "no parameters");
    }

    @Test
    void compactEveryIsEchoedWhenSetAndWidensTheSlotBound() {
        CachePolicy p = PolicyRegistry.create(spec("policy", "entropy-merge", "budget", 64, "compact_every", 16));
        assertThat(p.params()).containsEntry("compact_every", 16);
        assertThat(p.maxSlots()).isEqualTo(64 + 15);
        assertThat(((BoundedPolicy) p).compactEvery()).isEqualTo(16);
        assertThat(PolicyRegistry.create(spec("policy", "entropy-merge", "budget", 64)).params())
                .doesNotContainKey("compact_every");
    }

    @Test
    void gpt2RefusesCacheIndexPositionsAndResolvesRopeToOriginal() {
        assertRejected(spec("policy", "streaming", "budget", 64, "rope", "cache-index"), Architecture.GPT2, "rope",
                "rotary");
        CachePolicy streaming = PolicyRegistry.create(spec("policy", "streaming", "budget", 64), Architecture.GPT2);
        assertThat(streaming.ropeMode()).isEqualTo(RopeMode.ORIGINAL);
        assertThat(streaming.params()).containsEntry("rope", "original");
        assertThat(PolicyRegistry.create(spec("policy", "h2o", "budget", 64, "rope", "original"), Architecture.GPT2)
                .ropeMode()).isEqualTo(RopeMode.ORIGINAL);
    }

    @Test
    void snapKvNamesItsWindowWhenTheBudgetCannotHoldIt() {
        assertThatThrownBy(() -> PolicyRegistry.create(java.util.Map.of("policy", "snapkv", "budget", 8)))
                .isInstanceOfSatisfying(PolicyException.class, e -> {
                    assertThat(e.field()).isEqualTo("budget");
                    assertThat(e.getMessage()).contains("window (32)");
                });
        assertThatThrownBy(() -> PolicyRegistry.create(java.util.Map.of("policy", "snapkv", "budget", 64, "kernel", 4)))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.field()).isEqualTo("kernel"));
        assertThatThrownBy(() -> PolicyRegistry.create(java.util.Map.of("policy", "knorm", "budget", 64, "keep", "mid")))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.field()).isEqualTo("keep"));
    }

    @Test
    void everyPolicyTakesQuantizationAndEchoesIt() {
        for (String name : PolicyRegistry.names()) {
            Map<String, Object> kv = spec("policy", name, "quantization", "int4", "group_size", 16, "residual", 8);
            if (!name.equals("full")) {
                kv.put("budget", 64);
            }
            CachePolicy p = PolicyRegistry.create(kv);
            assertThat(p.quantization()).isEqualTo(new dev.kvlab.cache.Quantization(4, 16, 8));
            assertThat(p.params()).contains(entry("quantization", "int4"), entry("group_size", 16), entry("residual", 8));
        }
        CachePolicy plain = PolicyRegistry.create(spec("policy", "full", "quantization", "none"));
        assertThat(plain.params()).isEmpty();
        assertThat(PolicyRegistry.create(spec("policy", "h2o", "budget", 64, "quantization", "int8")).quantization())
                .isEqualTo(new dev.kvlab.cache.Quantization(8, 32, 32));
    }

    @Test
    void quantizationMistakesNameTheirKey() {
        Map<String, Map<String, Object>> bad = Map.of(
                "quantization", spec("policy", "full", "quantization", "int3"),
                "group_size", spec("policy", "full", "quantization", "int8", "group_size", 0),
                "residual", spec("policy", "full", "quantization", "int8", "residual", -1));
        bad.forEach((field, kv) -> assertThatThrownBy(() -> PolicyRegistry.create(kv))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.field()).isEqualTo(field)));
        assertThatThrownBy(() -> PolicyRegistry.create(spec("policy", "full", "group_size", 16)))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.field()).isEqualTo("group_size"));
        assertThatThrownBy(() -> new dev.kvlab.cache.Quantization(8, 24, 32).requireFits(64))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.field()).isEqualTo("group_size"));
    }
}

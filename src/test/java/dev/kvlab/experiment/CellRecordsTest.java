package dev.kvlab.experiment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Stored cells parse into the kinds' records and back unchanged; a bad one names its field. */
class CellRecordsTest {

    private static final Map<String, Object> FULL = Map.of("policy", "full");

    @Test
    void cellsRoundTripThroughTheirRecords() {
        Map<String, Object> oom = new OomSweepKind.Cell(FULL, 8, 64, 2, 1000L).toMap();
        assertThat(OomSweepKind.Cell.of(oom).toMap()).isEqualTo(oom);
        assertThat(new OomSweepKind.Cell(FULL, 8, 64, 2, null).toMap()).doesNotContainKey("memory_limit_bytes");
        Map<String, Object> passKey = new PassKeyKind.Cell(FULL, 256, 0.5, 3, 7).toMap();
        assertThat(PassKeyKind.Cell.of(passKey)).isEqualTo(new PassKeyKind.Cell(FULL, 256, 0.5, 3, 7));
        CompressionSweepKind.Documents docs = new CompressionSweepKind.Documents(List.of(512), List.of(0.1, 0.9), 3, 0,
                "held-out");
        Map<String, Object> sweep = new CompressionSweepKind.Cell(FULL, 0.0, "passkey", docs, 0).toMap();
        assertThat(sweep).doesNotContainKey("tokens");
        assertThat(CompressionSweepKind.Cell.of(sweep).documents()).isEqualTo(docs);
        assertThat(CompressionSweepKind.Cell.of(new CompressionSweepKind.Cell(FULL, 0.5, "perplexity", null, 64)
                .toMap()).tokens()).isEqualTo(64);
    }

    @Test
    void storedJsonNumbersOfAnyTypeAreRead() {
        Map<String, Object> stored = new LinkedHashMap<>(Map.of("kv_cache", FULL, "context_length", 512L,
                "decode_tokens", 32, "concurrency", 4.0));
        assertThat(ThroughputKind.Cell.of(stored)).isEqualTo(new ThroughputKind.Cell(FULL, 512, 32, 4));
        stored.remove("concurrency"); // cells stored before concurrency existed ran one sequence
        assertThat(ThroughputKind.Cell.of(stored).concurrency()).isEqualTo(1);
    }

    @Test
    void aMissingOrMistypedFieldIsNamed() {
        assertThatThrownBy(() -> MemoryGrowthKind.Cell.of(Map.of("kv_cache", FULL, "max_new_tokens", 8, "every", 2)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("memory-growth cell: prompt_tokens must be a number, got nothing");
        assertThatThrownBy(() -> PerplexityKind.Cell.of(Map.of("kv_cache", FULL, "tokens", "many")))
                .hasMessage("perplexity cell: tokens must be a number, got many (String)");
        assertThatThrownBy(() -> PerplexityKind.Cell.of(Map.of("kv_cache", "full", "tokens", 8)))
                .hasMessageContaining("kv_cache must be an object");
    }
}

package dev.kvlab.experiment;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The kinds this server runs, by request name. */
final class ExperimentKinds {

    private final Map<String, ExperimentKind> byName = new LinkedHashMap<>();

    ExperimentKinds(List<ExperimentKind> kinds) {
        kinds.forEach(k -> byName.put(k.name(), k));
    }

    /** The five kinds of DESIGN §5 and the compression sweep, over one engine. */
    static ExperimentKinds of(ExperimentEngine engine, int maxLength) {
        return new ExperimentKinds(List.of(new OomSweepKind(engine, maxLength), new MemoryGrowthKind(engine, maxLength),
                new PerplexityKind(engine, maxLength), new PassKeyKind(engine, maxLength),
                new ThroughputKind(engine, maxLength), new CompressionSweepKind(engine, maxLength)));
    }

    Optional<ExperimentKind> find(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    List<String> names() {
        return List.copyOf(byName.keySet());
    }
}

package dev.kvlab.deploy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * {@code helm template} of {@code helm/kvlab} through helm-java (the helm library runs in-process, no
 * binary or cluster needed), parsed into one map per manifest.
 */
final class HelmChart {

    static final Path CHART = Path.of("helm/kvlab");
    /** helm template assumes Kubernetes 1.20 without a cluster; the chart needs 1.25 or later. */
    static final String KUBE_VERSION = "1.31.0";

    private HelmChart() {}

    /** One rendered object: its kind, name and the whole document. */
    record Manifest(String kind, String name, Map<String, Object> body) {}

    /** Renders the chart with {@code --set key=value} for each entry (values as helm's --set parses them). */
    static List<Manifest> render(Map<String, Object> values) {
        TemplateCommand template = new Helm(CHART).template().withName("kvlab").withNamespace("lab")
                .withKubeVersion(KUBE_VERSION);
        values.forEach(template::set);
        return parse(template.call());
    }

    @SuppressWarnings("unchecked")
    static List<Manifest> parse(String rendered) {
        List<Manifest> manifests = new ArrayList<>();
        for (Object doc : new Yaml(new SafeConstructor(new LoaderOptions())).loadAll(rendered)) {
            if (doc instanceof Map<?, ?> map) {
                Map<String, Object> body = (Map<String, Object>) map;
                Map<String, Object> metadata = (Map<String, Object>) body.get("metadata");
                manifests.add(new Manifest((String) body.get("kind"), (String) metadata.get("name"), body));
            }
        }
        return manifests;
    }

    static Manifest only(List<Manifest> manifests, String kind) {
        List<Manifest> found = manifests.stream().filter(m -> m.kind().equals(kind)).toList();
        if (found.size() != 1) {
            throw new AssertionError("expected one " + kind + ", rendered " + manifests.stream()
                    .map(m -> m.kind() + "/" + m.name()).toList());
        }
        return found.get(0);
    }

    /** The value at a path of map keys and list indexes, e.g. {@code at(doc, "spec", "template", "spec")}. */
    @SuppressWarnings("unchecked")
    static <T> T at(Object node, Object... path) {
        Object current = node;
        for (Object key : path) {
            if (current == null) {
                return null;
            }
            current = key instanceof Integer index ? ((List<Object>) current).get(index)
                    : ((Map<String, Object>) current).get((String) key);
        }
        return (T) current;
    }
}

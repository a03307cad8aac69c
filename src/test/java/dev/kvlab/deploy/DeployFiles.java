package dev.kvlab.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/** Reads the deployment files of the repository: YAML documents and Dockerfile instructions. */
final class DeployFiles {

    private static final Pattern ENV_PAIR = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|\\S*)");

    private DeployFiles() {}

    static String read(String path) {
        try {
            return Files.readString(Path.of(path));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> yaml(String path) {
        return (Map<String, Object>) new Yaml(new SafeConstructor(new LoaderOptions())).load(read(path));
    }

    /** A Dockerfile's instructions, continuation lines joined and comments dropped: [INSTRUCTION, arguments]. */
    static List<String[]> dockerfile(String path) {
        List<String[]> instructions = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : read(path).split("\n")) {
            String trimmed = line.strip();
            if (trimmed.startsWith("#") || (trimmed.isEmpty() && current.length() == 0)) {
                continue;
            }
            if (trimmed.endsWith("\\")) {
                current.append(trimmed, 0, trimmed.length() - 1).append(' ');
                continue;
            }
            current.append(trimmed);
            String joined = current.toString().strip();
            current.setLength(0);
            if (!joined.isEmpty()) {
                int space = joined.indexOf(' ');
                instructions.add(new String[] {joined.substring(0, space).toUpperCase(), joined.substring(space + 1).strip()});
            }
        }
        return instructions;
    }

    /** The ENV values of a Dockerfile's last stage (the image that runs), quotes removed. */
    static Map<String, String> runtimeEnv(String path) {
        Map<String, String> env = new LinkedHashMap<>();
        for (String[] instruction : dockerfile(path)) {
            if (instruction[0].equals("FROM")) {
                env.clear();
            } else if (instruction[0].equals("ENV")) {
                Matcher m = ENV_PAIR.matcher(instruction[1]);
                while (m.find()) {
                    env.put(m.group(1), m.group(2).replaceAll("^\"|\"$", ""));
                }
            }
        }
        return env;
    }

    /** The arguments of each instruction of one kind, in order, across all stages. */
    static List<String> instructions(String path, String kind) {
        return dockerfile(path).stream().filter(i -> i[0].equals(kind)).map(i -> i[1]).toList();
    }

    /** KEY=value lines of an env file. */
    static Map<String, String> envFile(String path) {
        Map<String, String> env = new LinkedHashMap<>();
        for (String line : read(path).split("\n")) {
            String trimmed = line.strip();
            if (!trimmed.isEmpty() && !trimmed.startsWith("#")) {
                int eq = trimmed.indexOf('=');
                env.put(trimmed.substring(0, eq), trimmed.substring(eq + 1));
            }
        }
        return env;
    }
}

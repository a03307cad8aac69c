package dev.kvlab.model.weights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A checkpoint split over several safetensors files, as described by a Hugging Face
 * {@code model.safetensors.index.json} ({@code weight_map}: tensor name → shard file). Each shard is
 * opened once; reads are delegated to the shard that holds the tensor.
 */
public final class ShardedWeights implements WeightSource {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final Path index;
    private final Map<String, SafetensorsFile> byTensor;
    private final List<SafetensorsFile> shards;

    private ShardedWeights(Path index, Map<String, SafetensorsFile> byTensor, List<SafetensorsFile> shards) {
        this.index = index;
        this.byTensor = byTensor;
        this.shards = shards;
    }

    /**
     * Opens every shard named by {@code index} (resolved next to it) and checks that each shard holds
     * the tensors the index assigns to it.
     *
     * @throws WeightException when the index is unreadable, or a shard is missing or disagrees with it
     */
    public static ShardedWeights open(Path index) {
        Map<String, String> weightMap = readWeightMap(index);
        Map<String, SafetensorsFile> byShardName = new LinkedHashMap<>();
        Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                String tensor = e.getKey();
                String shardName = e.getValue();
                SafetensorsFile shard = byShardName.get(shardName);
                if (shard == null) {
                    Path shardPath = index.resolveSibling(shardName);
                    if (!Files.isRegularFile(shardPath)) {
                        throw new WeightException(index + " puts tensor '" + tensor + "' in shard '" + shardName
                                + "', but " + shardPath + " does not exist");
                    }
                    shard = SafetensorsFile.open(shardPath);
                    byShardName.put(shardName, shard);
                }
                if (!shard.contains(tensor)) {
                    throw new WeightException(index + " puts tensor '" + tensor + "' in shard '" + shardName
                            + "', but " + shard.file() + " does not hold it");
                }
                byTensor.put(tensor, shard);
            }
        } catch (RuntimeException e) {
            byShardName.values().forEach(SafetensorsFile::close);
            throw e;
        }
        return new ShardedWeights(index, Collections.unmodifiableMap(byTensor), List.copyOf(byShardName.values()));
    }

    private static Map<String, String> readWeightMap(Path index) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(index));
        } catch (IOException e) {
            throw new WeightException("cannot read " + index + ": " + e, e);
        } catch (JacksonException e) {
            throw new WeightException(index + " is not valid JSON: " + e.getOriginalMessage(), e);
        }
        JsonNode weightMap = root == null ? null : root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) {
            throw new WeightException(index + " has no weight_map object");
        }
        Map<String, String> result = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : weightMap.properties()) {
            if (!e.getValue().isString()) {
                throw new WeightException(index + ": weight_map entry '" + e.getKey() + "' is not a file name");
            }
            result.put(e.getKey(), e.getValue().stringValue());
        }
        return result;
    }

    /** The shard files, in the order the index first names them. */
    public List<Path> shardFiles() {
        List<Path> files = new ArrayList<>();
        shards.forEach(s -> files.add(s.file()));
        return files;
    }

    @Override
    public Set<String> names() {
        return byTensor.keySet();
    }

    @Override
    public boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    @Override
    public long[] shape(String name) {
        return shard(name).shape(name);
    }

    @Override
    public String dtype(String name) {
        return shard(name).dtype(name);
    }

    @Override
    public float[] readFloats(String name, long... expectedShape) {
        return shard(name).readFloats(name, expectedShape);
    }

    private SafetensorsFile shard(String name) {
        SafetensorsFile shard = byTensor.get(name);
        if (shard == null) {
            throw new WeightException("tensor '" + name + "' not found in " + index);
        }
        return shard;
    }

    @Override
    public void close() {
        RuntimeException failure = null;
        for (SafetensorsFile shard : shards) {
            try {
                shard.close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        return "ShardedWeights[" + index + ", " + shards.size() + " shards, " + byTensor.size() + " tensors]";
    }
}

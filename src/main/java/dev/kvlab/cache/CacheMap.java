package dev.kvlab.cache;

import java.util.ArrayList;
import java.util.List;

/**
 * What a cache holds, token by token: for every layer and KV head, the original position of each
 * stored slot and how many tokens it stands for (1 unless merged). The figure every eviction paper
 * draws, taken from the cache's own bookkeeping rather than reconstructed.
 *
 * @param layers per layer, per KV head
 */
public record CacheMap(long seenTokens, List<List<Head>> layers) {

    /** One KV head's slots, in slot order. */
    public record Head(int[] positions, float[] counts) {}

    /** A copy of {@code cache}'s slots now (the cache may change or close afterwards). */
    public static CacheMap of(KvCache cache) {
        List<List<Head>> layers = new ArrayList<>();
        for (int l = 0; l < cache.layerCount(); l++) {
            LayerCache layer = cache.layer(l);
            List<Head> heads = new ArrayList<>();
            for (int h = 0; h < layer.spec().kvHeads(); h++) {
                heads.add(new Head(layer.positions(h), layer.counts(h)));
            }
            layers.add(List.copyOf(heads));
        }
        return new CacheMap(cache.seenTokens(), List.copyOf(layers));
    }
}

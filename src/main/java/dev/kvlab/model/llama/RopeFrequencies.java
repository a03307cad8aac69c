package dev.kvlab.model.llama;

import dev.kvlab.model.llama.LlamaConfig.Llama3RopeScaling;

/**
 * The rotary inverse frequencies of a Llama-family config, for {@link dev.kvlab.model.nn.Rope}:
 * {@code rope_theta} and {@code rope_scaling} are fields of this family, so the shared rotation
 * code takes frequencies rather than a config.
 */
final class RopeFrequencies {

    private RopeFrequencies() {}

    /** inv_freq = θ^(-2i/d), with Llama 3's frequency-dependent scaling when configured. */
    static double[] of(LlamaConfig config) {
        int d = config.headDim();
        double[] f = new double[d / 2];
        for (int i = 0; i < d / 2; i++) {
            f[i] = 1.0 / Math.pow(config.ropeTheta(), (2.0 * i) / d);
        }
        Llama3RopeScaling s = config.ropeScaling();
        if (s != null) {
            double lowFreqWavelen = s.originalMaxPositions() / s.lowFreqFactor();
            double highFreqWavelen = s.originalMaxPositions() / s.highFreqFactor();
            for (int i = 0; i < f.length; i++) {
                double wavelen = 2 * Math.PI / f[i];
                if (wavelen > lowFreqWavelen) {
                    f[i] = f[i] / s.factor();
                } else if (wavelen >= highFreqWavelen) {
                    double smooth = (s.originalMaxPositions() / wavelen - s.lowFreqFactor())
                            / (s.highFreqFactor() - s.lowFreqFactor());
                    f[i] = (1 - smooth) * f[i] / s.factor() + smooth * f[i];
                }
            }
        }
        return f;
    }

}

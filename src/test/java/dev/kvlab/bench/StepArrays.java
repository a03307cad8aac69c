package dev.kvlab.bench;

import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;
import java.lang.reflect.Field;
import java.util.IdentityHashMap;

/**
 * Native arrays one forward step creates, counted in its scope: a floor on its native calls, and a
 * figure that does not drift with the machine's speed. The step runs in autograd mode so that no layer
 * frees its arrays early (no weight needs a gradient, so no graph is recorded) and all of them are
 * still in the scope when it is counted.
 */
final class StepArrays {
    private StepArrays() {}

    /** @return the arrays {@code step} created, or -1 when DJL's scope cannot be read */
    static int created(Runnable step) {
        try (NDScope scope = new NDScope()) {
            JniUtils.setGradMode(true);
            try {
                step.run();
            } finally {
                JniUtils.setGradMode(false);
            }
            Field resources = NDScope.class.getDeclaredField("resources");
            resources.setAccessible(true);
            return ((IdentityHashMap<?, ?>) resources.get(scope)).size();
        } catch (ReflectiveOperationException e) {
            return -1;
        }
    }
}

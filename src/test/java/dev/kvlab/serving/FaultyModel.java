package dev.kvlab.serving;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.KvSpec;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.model.ForwardPass;
import dev.kvlab.model.ModelConfig;
import dev.kvlab.model.SequenceInput;
import dev.kvlab.model.TransformerModel;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;

/**
 * The served model behind a test hook: a forward pass can be made to fail as the device would
 * ({@code EngineException: CUDA out of memory}), and every pass can be slowed down so that requests
 * overlap and streams can be watched. Import {@link Hook} to have the server's model wrapped.
 */
final class FaultyModel implements TransformerModel {

    private final TransformerModel delegate;
    private final AtomicReference<RuntimeException> failure = new AtomicReference<>();
    private final AtomicInteger forwardsBeforeFailure = new AtomicInteger();
    private volatile long delayMillis;

    FaultyModel(TransformerModel delegate) {
        this.delegate = delegate;
    }

    /** The forward pass {@code passesFromNow} passes from now (0: the next one) throws {@code e}, once. */
    void failAfter(int passesFromNow, RuntimeException e) {
        forwardsBeforeFailure.set(passesFromNow);
        failure.set(e);
    }

    /** Every forward pass takes at least this long. */
    void delay(long millis) {
        delayMillis = millis;
    }

    void reset() {
        failure.set(null);
        delayMillis = 0;
    }

    @Override
    public ForwardPass forward(List<SequenceInput> batch) {
        if (failure.get() != null && forwardsBeforeFailure.getAndDecrement() <= 0) {
            RuntimeException e = failure.getAndSet(null);
            if (e != null) {
                throw e;
            }
        }
        if (delayMillis > 0) {
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt(); // the generator notices at its next step
            }
        }
        return delegate.forward(batch);
    }

    @Override
    public void checkPositions(long first, int count) {
        delegate.checkPositions(first, count);
    }

    @Override
    public ModelConfig config() {
        return delegate.config();
    }

    @Override
    public KvSpec kvSpec() {
        return delegate.kvSpec();
    }

    @Override
    public Device device() {
        return delegate.device();
    }

    @Override
    public DataType dtype() {
        return delegate.dtype();
    }

    @Override
    public long parameterCount() {
        return delegate.parameterCount();
    }

    @Override
    public KvCache newCache(CachePolicy policy, int prefillChunk) {
        return delegate.newCache(policy, prefillChunk);
    }

    @Override
    public void close() {
        delegate.close();
    }

    /** Wraps the context's {@link TransformerModel} bean in a {@link FaultyModel}. */
    @TestConfiguration(proxyBeanMethods = false)
    static class Hook {
        @Bean
        static BeanPostProcessor faultyModelWrapper() {
            return new BeanPostProcessor() {
                @Override
                public Object postProcessAfterInitialization(Object bean, String beanName) {
                    return bean instanceof TransformerModel model && !(bean instanceof FaultyModel)
                            ? new FaultyModel(model) : bean;
                }
            };
        }
    }
}

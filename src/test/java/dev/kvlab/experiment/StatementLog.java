package dev.kvlab.experiment;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.springframework.beans.factory.config.BeanPostProcessor;

/**
 * Wraps the context's {@link DataSource} so a test can list the SQL statements that one thread
 * prepares while it runs an action (other threads, e.g. db-scheduler's polling, are not recorded).
 */
final class StatementLog implements BeanPostProcessor {

    private static final ThreadLocal<List<String>> RECORDING = new ThreadLocal<>();

    /** The statements the calling thread prepared or created while running {@code action}. */
    static List<String> record(Runnable action) {
        List<String> statements = new ArrayList<>();
        RECORDING.set(statements);
        try {
            action.run();
        } finally {
            RECORDING.remove();
        }
        return statements;
    }

    @Override
    public Object postProcessAfterInitialization(Object bean, String beanName) {
        return bean instanceof DataSource dataSource ? wrap(dataSource) : bean;
    }

    private static DataSource wrap(DataSource target) {
        return (DataSource) Proxy.newProxyInstance(StatementLog.class.getClassLoader(), new Class<?>[] {DataSource.class},
                (proxy, method, args) -> {
                    Object result = invoke(target, method, args);
                    return result instanceof Connection c && method.getName().equals("getConnection") ? wrap(c) : result;
                });
    }

    private static Connection wrap(Connection target) {
        return (Connection) Proxy.newProxyInstance(StatementLog.class.getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                    List<String> statements = RECORDING.get();
                    if (statements != null) {
                        switch (method.getName()) {
                            case "prepareStatement", "prepareCall" -> statements.add((String) args[0]);
                            case "createStatement" -> statements.add("(statement)");
                            default -> { }
                        }
                    }
                    return invoke(target, method, args);
                });
    }

    private static Object invoke(Object target, Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}

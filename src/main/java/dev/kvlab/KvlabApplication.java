package dev.kvlab;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/** Entry point: the REST server that drives the kvlab engine. */
@SpringBootApplication
@ConfigurationPropertiesScan
public class KvlabApplication {
    public static void main(String[] args) {
        SpringApplication.run(KvlabApplication.class, args);
    }
}

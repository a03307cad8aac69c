package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;
import org.springframework.web.ErrorResponseException;

class AdmissionControlTest {

    @Test
    void refusesWith429OnceTheQueueIsFull() {
        AdmissionControl admission = new AdmissionControl(1, 0);
        try (AdmissionControl.Permit held = admission.acquire()) {
            assertThat(admission.running()).isEqualTo(1);
            assertThatThrownBy(admission::acquire)
                    .isInstanceOfSatisfying(ErrorResponseException.class, e -> {
                        assertThat(e.getStatusCode()).isEqualTo(HttpStatus.TOO_MANY_REQUESTS);
                        assertThat(e.getHeaders().getFirst("Retry-After")).isEqualTo("1");
                    });
            assertThat(admission.waiting()).isZero();
        }
        assertThat(admission.running()).isZero();
        admission.acquire().close(); // the slot is free again
    }

    @Test
    void queuedRequestWaitsForTheSlotAndReportsItsWait() throws Exception {
        AdmissionControl admission = new AdmissionControl(1, 1);
        AdmissionControl.Permit first = admission.acquire();
        CompletableFuture<Long> second = CompletableFuture.supplyAsync(() -> {
            try (AdmissionControl.Permit p = admission.acquire()) {
                return p.waitedNanos();
            }
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (admission.waiting() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(admission.waiting()).isEqualTo(1);
        assertThatThrownBy(admission::acquire).isInstanceOf(ErrorResponseException.class); // queue of 1 is full
        Thread.sleep(50);
        first.close();
        first.close(); // closing twice releases once
        assertThat(second.get(5, TimeUnit.SECONDS)).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(50));
        assertThat(admission.running()).isZero();
        assertThat(admission.waiting()).isZero();
    }
}

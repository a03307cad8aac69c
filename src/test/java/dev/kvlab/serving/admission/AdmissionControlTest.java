package dev.kvlab.serving.admission;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kvlab.generation.GenerationCancelledException;
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

    @Test
    void requestWaitsForMemoryInArrivalOrderAndReservesItWhileRunning() throws Exception {
        long[] free = {1000};
        AdmissionControl admission = new AdmissionControl(4, 2, (reserved, live) -> free[0] - reserved);
        AdmissionControl.Permit big = admission.enter(700);
        big.awaitTurn();
        assertThat(admission.reservedBytes()).isEqualTo(700);

        AdmissionControl.Permit second = admission.enter(600); // a slot is free, the memory is not
        AdmissionControl.Permit small = admission.enter(100); // would fit, but must not overtake
        assertThat(admission.waiting()).isEqualTo(2);
        CompletableFuture<Void> secondRuns = CompletableFuture.runAsync(second::awaitTurn);
        CompletableFuture<Void> smallRuns = CompletableFuture.runAsync(small::awaitTurn);
        Thread.sleep(300);
        assertThat(secondRuns).isNotDone();
        assertThat(smallRuns).isNotDone();

        big.close();
        secondRuns.get(5, TimeUnit.SECONDS);
        smallRuns.get(5, TimeUnit.SECONDS);
        assertThat(admission.running()).isEqualTo(2);
        assertThat(admission.reservedBytes()).isEqualTo(700);
        second.close();
        small.close();
        assertThat(admission.reservedBytes()).isZero();
        assertThat(admission.waiting()).isZero();
    }

    @Test
    void withdrawingAQueuedRequestFreesItsPlace() {
        AdmissionControl admission = new AdmissionControl(1, 1);
        try (AdmissionControl.Permit held = admission.acquire()) {
            AdmissionControl.Permit queued = admission.enter(0);
            assertThat(admission.waiting()).isEqualTo(1);
            queued.close();
            assertThat(admission.waiting()).isZero();
            assertThatThrownBy(queued::awaitTurn).isInstanceOf(GenerationCancelledException.class);
            admission.enter(0).close(); // the queue has room again
        }
    }
}

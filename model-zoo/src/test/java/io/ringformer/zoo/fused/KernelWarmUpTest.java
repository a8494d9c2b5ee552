package io.ringformer.zoo.fused;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;

import org.junit.jupiter.api.Test;

/** The warm-up calls every kernel with shapes the kernels accept (a wrong one would throw in a worker's thread). */
class KernelWarmUpTest {

    @Test
    void everyKernelAcceptsTheWarmUpsShapes() {
        assertDoesNotThrow(() -> KernelWarmUp.run(Kernels.best(), 3));
        assertDoesNotThrow(() -> KernelWarmUp.run(new ScalarKernels(), 3));
    }
}

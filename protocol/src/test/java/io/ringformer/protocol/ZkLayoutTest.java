package io.ringformer.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class ZkLayoutTest {

    @Test
    @Timeout(10)
    void pathsAreTheDesignsLayout() {
        ZkLayout layout = new ZkLayout("gpt-char");
        assertEquals("/ringformer/jobs/gpt-char", layout.root());
        assertEquals("/ringformer/jobs/gpt-char/spec", layout.spec());
        assertEquals("/ringformer/jobs/gpt-char/coordinator", layout.coordinator());
        assertEquals("/ringformer/jobs/gpt-char/workers", layout.workers());
        assertEquals("/ringformer/jobs/gpt-char/workers/host1-4242", layout.worker("host1-4242"));
        assertEquals("/ringformer/jobs/gpt-char/generation", layout.generation());
        assertEquals("/ringformer/jobs/gpt-char/checkpoints", layout.checkpoints());
        assertEquals("/ringformer/jobs/gpt-char/checkpoints/latest", layout.latestCheckpoint());
        assertEquals("/ringformer/jobs/gpt-char/checkpoints/step-00000250", layout.checkpoint(250));
        assertEquals("/ringformer/jobs/gpt-char/status", layout.status());
    }

    @Test
    @Timeout(10)
    void namesThatAreNotSafeNodeNamesAreRefused() {
        for (String bad : new String[] {"", ".", "..", "a/b", "with space", "x".repeat(129)}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ZkLayout(bad));
            assertTrue(e.getMessage().startsWith("job name must be"), e.getMessage());
        }
        ZkLayout layout = new ZkLayout("job");
        assertThrows(IllegalArgumentException.class, () -> layout.worker("../spec"));
        assertThrows(IllegalArgumentException.class, () -> layout.checkpoint(-1));
    }
}

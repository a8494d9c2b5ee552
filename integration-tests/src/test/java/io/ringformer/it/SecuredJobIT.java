package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A job whose znodes carry digest ACLs runs as an open one does: {@code train --workers 2 --zk-auth …} — the
 * launcher's coordinator, the workers it starts (credentials in their environment) and the launcher's own
 * supervision all work under the ACL — and the password appears nowhere in the output.
 */
class SecuredJobIT {

    @Test
    @Timeout(600)
    void twoWorkersTrainUnderDigestAcls(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("run");
        String[] arguments = TrainingJobIT.train(run, 2);
        String[] secured = new String[arguments.length + 2];
        System.arraycopy(arguments, 0, secured, 0, arguments.length);
        secured[arguments.length] = "--zk-auth";
        secured[arguments.length + 1] = "ringformer:pa55-w0rd";
        String out = Cli.run(dir.resolve("train.log"), 0, 300, secured);
        assertTrue(out.contains("rank 0 of 2") && out.contains("rank 1 of 2"), out);
        assertTrue(Files.isDirectory(run.resolve("checkpoints").resolve(String.format("step-%08d",
                TrainingJobIT.STEPS))), out);
        assertEquals(0, out.split("pa55-w0rd", -1).length - 1, "the password was printed:\n" + out);
    }
}

package io.ringformer.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.protocol.InputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JobTokenTest {

    @Test
    void aMissingTokenFileIsCreatedOwnerOnlyAndReadBackTheSame(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("secrets/job.token");
        String token = JobToken.of(file);
        assertEquals(64, token.length());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals(token, JobToken.of(file));
        assertNotEquals(token, JobToken.generate());
    }

    @Test
    void aTokenFileOthersCanReadIsRefused(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("job.token");
        Files.writeString(file, "0123456789abcdef0123456789abcdef\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        InputException e = assertThrows(InputException.class, () -> JobToken.of(file));
        assertTrue(e.getMessage().contains("chmod 600"), e.getMessage());
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        assertEquals("0123456789abcdef0123456789abcdef", JobToken.of(file));
    }
}

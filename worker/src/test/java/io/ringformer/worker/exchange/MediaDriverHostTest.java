package io.ringformer.worker.exchange;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class MediaDriverHostTest {

    @Test
    @Timeout(60)
    void theDriversDirectoryIsTheOwnersAloneAndGoesOnClose() throws Exception {
        Path directory;
        try (MediaDriverHost host = MediaDriverHost.start()) {
            directory = Path.of(host.directory());
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(directory)));
            List<Path> files;
            try (Stream<Path> walk = Files.walk(directory)) {
                files = walk.filter(Files::isRegularFile).toList();
            }
            assertTrue(files.stream().anyMatch(f -> f.getFileName().toString().equals("cnc.dat")), files.toString());
            for (Path file : files) {
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)),
                        file.toString());
            }
            try (var aeron = host.connect()) {
                assertTrue(aeron.clientId() >= 0);                // a client still gets in: it is the owner
            }
        }
        assertFalse(Files.exists(directory));
    }
}

package io.ringformer.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunLockTest {

    @Test
    void aSecondHolderIsRefusedNamingTheFirstsPidAndHost(@TempDir Path run) throws Exception {
        try (RunLock first = RunLock.acquire(run, s -> { })) {
            assertEquals(RunLock.self(), Files.readString(run.resolve(".lock")).strip());
            RunLock.HeldException e = assertThrows(RunLock.HeldException.class, () -> RunLock.acquire(run, s -> { }));
            assertTrue(e.getMessage().contains("pid " + ProcessHandle.current().pid() + " on host "
                    + InetAddress.getLocalHost().getHostName()), e.getMessage());
        }
        assertFalse(Files.exists(run.resolve(".lock")), "closing deletes the file");
        RunLock.acquire(run, s -> { }).close();
    }

    @Test
    void aStaleLockOfAProcessThatIsGoneIsTakenOverWithALine(@TempDir Path run) throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        Files.writeString(run.resolve(".lock"), gone.pid() + "@" + InetAddress.getLocalHost().getHostName() + "\n");
        List<String> lines = new ArrayList<>();
        try (RunLock lock = RunLock.acquire(run, lines::add)) {
            assertEquals(1, lines.size(), lines.toString());
            assertTrue(lines.get(0).contains("taking over the lock of " + gone.pid()), lines.get(0));
            assertEquals(RunLock.self(), Files.readString(run.resolve(".lock")).strip());
        }
    }

    @Test
    void aLockFileOfAnotherHostIsRefusedWithTheFix(@TempDir Path run) throws Exception {
        Files.writeString(run.resolve(".lock"), "4242@elsewhere-node\n");
        RunLock.HeldException e = assertThrows(RunLock.HeldException.class, () -> RunLock.acquire(run, s -> { }));
        assertTrue(e.getMessage().contains("pid 4242 on host elsewhere-node") && e.getMessage().contains("delete"),
                e.getMessage());
    }
}

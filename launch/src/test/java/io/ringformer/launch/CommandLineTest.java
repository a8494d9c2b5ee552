package io.ringformer.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

class CommandLineTest {

    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Ringformer.commandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new Result(code, out.toString(), err.toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "train", "generate", "eval", "checkpoints", "checkpoints list", "checkpoints verify",
            "bench", "bench train", "bench model", "fill-mask"})
    void everyCommandHasHelp(String command) {
        String[] args = (command.isEmpty() ? "--help" : command + " --help").split(" ");
        Result r = run(args);
        assertEquals(0, r.code());
        assertTrue(r.out().contains("Usage: ringformer"), r.out());
    }

    @Test
    void anUnknownConfigKeyExitsTwoWithOneLineNamingIt(@TempDir Path dir) throws Exception {
        Path config = Files.writeString(dir.resolve("c.yaml"), "optim:\n  learning_rate: 0.1\n");
        Result r = run("train", "--config", config.toString(), "--out", dir.resolve("run").toString());
        assertEquals(2, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("'optim.learning_rate'"), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }

    @Test
    void aWrongTypeAndAMissingFileExitTwo(@TempDir Path dir) {
        Result type = run("train", "--config", "../configs/gpt-char-tiny.yaml", "--set", "train.max_iters=many",
                "--out", dir.toString());
        assertEquals(2, type.code());
        assertTrue(type.err().contains("train.max_iters") && type.err().contains("integer"), type.err());
        Result missing = run("train", "--config", dir.resolve("absent.yaml").toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("absent.yaml"), missing.err());
        Result badOption = run("train", "--configg", "x");
        assertEquals(2, badOption.code());
        Result noCheckpoint = run("generate", "--checkpoint", dir.resolve("nothing").toString());
        assertEquals(2, noCheckpoint.code());
        assertTrue(noCheckpoint.err().contains("nothing"), noCheckpoint.err());
    }
}

package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every family on the same trainer and exchange: {@code ringformer train --workers 2} of a non-GPT family ends with
 * the parameters of one process on the whole batch, and its checkpoint is used by the family's command.
 */
class FamiliesIT {

    static final int STEPS = 8;

    static String[] vit(Path out, int workers) {
        return new String[] {"train", "--config", "../configs/vit-fashion-tiny.yaml", "--workers", "" + workers,
                "--out", out.toString(), "--sample", "0", "--set", "train.max_iters=" + STEPS,
                "--set", "data.crop_padding=2", "--set", "checkpoint.interval=" + STEPS,
                "--set", "eval.interval=" + STEPS, "--set", "eval.iters=1"};
    }

    /** BERT's MLM weights depend on the whole batch's masked count: two workers must still train as one. */
    static String[] bert(Path out, int workers) {
        return new String[] {"train", "--config", "../configs/bert-mlm-tiny.yaml", "--workers", "" + workers,
                "--out", out.toString(), "--set", "data.path=" + Cli.mobyDick(), "--set", "train.max_iters=" + STEPS,
                "--set", "checkpoint.interval=" + STEPS, "--set", "eval.interval=" + STEPS, "--set", "eval.iters=1"};
    }

    @Test
    @Timeout(900)
    void twoVitWorkersEndWithTheParametersOfOneProcess(@TempDir Path dir) throws Exception {
        checkTwoWorkersEqualOne("vit", dir, FamiliesIT::vit);
    }

    @Test
    @Timeout(900)
    void twoBertWorkersEndWithTheParametersOfOneProcess(@TempDir Path dir) throws Exception {
        checkTwoWorkersEqualOne("bert", dir, FamiliesIT::bert);
    }

    private static void checkTwoWorkersEqualOne(String family, Path dir,
                                                java.util.function.BiFunction<Path, Integer, String[]> train)
            throws Exception {
        Cli.run(dir.resolve("one.log"), 0, 300, train.apply(dir.resolve("one"), 1));
        String log = Cli.run(dir.resolve("two.log"), 0, 300, train.apply(dir.resolve("two"), 2));
        double difference = TrainingJobIT.maxDifference(
                TrainingJobIT.finalParameters(dir.resolve("one"), STEPS),
                TrainingJobIT.finalParameters(dir.resolve("two"), STEPS));
        System.out.printf("%s, 2 workers vs one process after %d steps: max |Δθ| = %.3g%n", family, STEPS,
                difference);
        assertTrue(difference < 1e-5, family + ", 2 workers: parameters differ by " + difference + "\n" + log);
    }
}

package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The ring, shared-memory and hierarchical all-reduces among P separate worker processes over real media drivers
 * (the shared memory file lives in a driver's directory; the hierarchical one runs two drivers as two hosts): every
 * rank checks that it
 * holds the exact element-wise sum (the values are small integers, so fp32 sums are exact in any order), for
 * sizes that are not multiples of P or of the chunk size, and smaller than P.
 */
class AllReduceIT {

    @ParameterizedTest
    @CsvSource({"2,1,ipc", "3,7,udp", "4,3,ipc", "4,2,udp", "3,1000003,udp", "2,250001,ipc", "2,1,shm", "3,7,shm",
            "4,1000003,shm", "4,1000003,hierarchical", "3,7,hierarchical"})
    @Timeout(180)
    void everyProcessHoldsTheExactSum(int workers, int floats, String transport, @TempDir Path dir) throws Exception {
        String out = Cli.run(dir.resolve("bench.log"), 0, 150, "bench", "allreduce", "--workers", "" + workers,
                "--floats", "" + floats, "--iterations", "3", "--warmup", "1", "--transport", transport);
        assertTrue(out.contains("sums exact on every rank"), out);
    }
}

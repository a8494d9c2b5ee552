package io.ringformer.launch;

import io.ringformer.worker.exchange.MediaDriverHost;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ringformer media-driver}: one host's Aeron media driver, shared by every worker of the job on that host
 * ({@code worker --aeron-dir DIR}), so the host runs one driver thread whatever its number of workers, and its
 * workers can sum in shared memory. It runs until SIGTERM or Ctrl-C, then deletes its directory (and the shared-memory
 * exchange files in it).
 */
@Command(name = "media-driver", mixinStandardHelpOptions = true,
        description = "Run this host's Aeron media driver for its workers (worker --aeron-dir DIR).")
public final class MediaDriverCommand implements Callable<Integer> {

    @Option(names = "--dir", required = true, paramLabel = "DIR",
            description = "The driver's directory, e.g. /dev/shm/ringformer-JOB; anything there is deleted first.")
    String directory;

    @Override
    public Integer call() throws InterruptedException {
        CountDownLatch stop = new CountDownLatch(1);
        MediaDriverHost.Config config = MediaDriverHost.Config.defaults();
        try (MediaDriverHost driver = MediaDriverHost.start(new MediaDriverHost.Config(directory, config.mtuBytes(),
                config.termBytes(), config.socketBufBytes()))) {
            StopSignals.install(stop::countDown, driver::close);
            System.out.println("media driver ready at " + driver.directory() + " (pid " + ProcessHandle.current().pid()
                    + ")");
            stop.await();
        }
        return 0;
    }
}

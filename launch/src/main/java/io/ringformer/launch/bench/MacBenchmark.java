package io.ringformer.launch.bench;

import io.ringformer.worker.exchange.FrameMac;
import io.ringformer.worker.exchange.RingFrame;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.agrona.concurrent.UnsafeBuffer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The candidates for the ring frames' MAC, timed side by side on one thread over frames of the ring's size: the
 * median throughput of each over several rounds (they take turns), and what each would add to a training step
 * that all-reduces {@code --parameters} floats among {@code --workers} ranks (every value is tagged when sent and
 * verified when received: 2 × 2(P−1)/P × 4 bytes per parameter).
 */
@Command(name = "mac", mixinStandardHelpOptions = true,
        description = "Time the frame MAC candidates (NH + SipHash, SipHash-2-4, HmacSHA256, AES-GMAC, "
                + "ChaCha20-Poly1305).")
public final class MacBenchmark implements Callable<Integer> {

    @Option(names = "--parameters", defaultValue = "816000",
            description = "Floats all-reduced per step (default ${DEFAULT-VALUE}: nanoGPT's CPU model).")
    int parameters;
    @Option(names = "--workers", defaultValue = "2", description = "Ranks P (default ${DEFAULT-VALUE}).")
    int workers;
    @Option(names = "--frame-bytes", defaultValue = "8128", description = "Payload per frame (default ${DEFAULT-VALUE}).")
    int frameBytes;
    @Option(names = "--rounds", defaultValue = "9", description = "Rounds (default ${DEFAULT-VALUE}).")
    int rounds;

    private interface Tagger {
        void tag(byte[] frame, int sequence) throws Exception;
    }

    @Override
    public Integer call() throws Exception {
        long bytesPerStep = (long) (2.0 * 2 * (workers - 1) / workers * 4 * parameters);
        int frames = (int) Math.max(1, bytesPerStep / frameBytes);
        byte[] frame = new byte[frameBytes];
        new Random(1).nextBytes(frame);
        byte[] key = new byte[32];
        new Random(2).nextBytes(key);
        FrameMac sip = FrameMac.ofToken("bench");
        Mac hmac = Mac.getInstance("HmacSHA256");
        hmac.init(new SecretKeySpec(key, "HmacSHA256"));
        Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
        SecretKeySpec aes = new SecretKeySpec(key, 0, 16, "AES");
        Cipher chacha = Cipher.getInstance("ChaCha20-Poly1305");
        SecretKeySpec chachaKey = new SecretKeySpec(key, "ChaCha20");
        byte[] nonce = new byte[12];
        UnsafeBuffer framed = new UnsafeBuffer(new byte[RingFrame.HEADER_LENGTH + frameBytes]);
        List<String> names = List.of("NH + SipHash (ours)", "SipHash-2-4", "HmacSHA256", "AES-GMAC",
                "ChaCha20-Poly1305");
        List<Tagger> taggers = List.of(
                (f, i) -> RingFrame.computeTag(sip, framed, 0, framed.capacity()),
                (f, i) -> sip.sipHash(f),
                (f, i) -> {
                    hmac.update(f);
                    hmac.doFinal();
                },
                (f, i) -> {
                    nonce(nonce, i);
                    gcm.init(Cipher.ENCRYPT_MODE, aes, new GCMParameterSpec(128, nonce));
                    gcm.updateAAD(f);
                    gcm.doFinal();
                },
                (f, i) -> {
                    nonce(nonce, i);
                    chacha.init(Cipher.ENCRYPT_MODE, chachaKey, new IvParameterSpec(nonce));
                    chacha.updateAAD(f);
                    chacha.doFinal();
                });
        double[][] millis = new double[taggers.size()][rounds];
        int sequence = 0;
        for (int round = -2; round < rounds; round++) {                 // two rounds of warm-up
            for (int t = 0; t < taggers.size(); t++) {
                long start = System.nanoTime();
                for (int i = 0; i < frames; i++) {
                    taggers.get(t).tag(frame, sequence++);
                }
                if (round >= 0) {
                    millis[t][round] = (System.nanoTime() - start) / 1e6;
                }
            }
        }
        System.out.printf("%,d frames of %,d bytes = %.1f MB tagged or verified per step (%,d parameters, %d ranks), "
                + "one thread, median of %d rounds:%n", frames, frameBytes, frames * (double) frameBytes / 1e6,
                parameters, workers, rounds);
        List<String> lines = new ArrayList<>();
        for (int t = 0; t < taggers.size(); t++) {
            double[] sorted = millis[t].clone();
            Arrays.sort(sorted);
            double median = sorted[rounds / 2];
            lines.add(String.format("  %-20s %6.2f ms a step  %5.2f GB/s", names.get(t), median,
                    frames * (double) frameBytes / (median / 1000) / 1e9));
        }
        lines.forEach(System.out::println);
        return 0;
    }

    private static void nonce(byte[] nonce, int sequence) {
        for (int b = 0; b < 4; b++) {
            nonce[b] = (byte) (sequence >>> (8 * b));
        }
    }
}

package io.ringformer.worker;

import io.ringformer.worker.backend.ModelBackend;
import io.ringformer.worker.exchange.GradientExchange;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Overlaps the all-reduce with the backward pass ({@code exchange.bucket_bytes} &gt; 0). The backend tells which
 * ranges of the flat gradient its backward pass has completed ({@link ModelBackend.CompletedRanges}: a layer's
 * parameters as that layer's backward pass ends); ranges gather into a bucket until it holds {@code bucketFloats}
 * values, and a full bucket is all-reduced at once on a thread of its own while the backward pass goes on with
 * earlier layers. {@link #finish} sends what was never told (and the trainer's loss and stop votes behind the
 * gradient) as the last bucket, and waits for every bucket.
 *
 * <p>Every rank runs the same model in the same order, so every rank forms the same buckets in the same order and
 * their all-reduces line up call for call. A bucket is gathered from its ranges into an array of its own, summed,
 * and scattered back: the ranges it covers are final, so the backward pass never writes them meanwhile. Each value
 * is still summed by one all-reduce over all ranks, so the result equals one all-reduce of the whole buffer — bit
 * for bit in shared memory, which sums every value in rank order whatever the call; within fp32 rounding of the
 * segment order on the Aeron ring.
 *
 * <p>Failures (a changed generation, a timeout) are the exchange's: the first one stops the step's later buckets
 * and {@link #finish} rethrows it on the trainer's thread, which regroups as after any all-reduce; the sending
 * thread is idle by then. Buckets and their arrays are kept from step to step (the buckets are the same every
 * step), so a warm step allocates nothing.
 */
final class GradientBuckets implements ModelBackend.CompletedRanges {

    /** A run of ranges of the flat buffer, all-reduced together. */
    private static final class Bucket {
        int[] ranges = new int[16];     // offset, length pairs
        int rangeCount;
        int floats;
        float[] values = new float[0];

        void add(int offset, int length) {
            if (2 * rangeCount + 2 > ranges.length) {
                ranges = Arrays.copyOf(ranges, 2 * ranges.length);
            }
            ranges[2 * rangeCount] = offset;
            ranges[2 * rangeCount + 1] = length;
            rangeCount++;
            floats += length;
        }

        void clear() {
            rangeCount = 0;
            floats = 0;
        }
    }

    private final GradientExchange exchange;
    private final int bucketFloats;
    private final List<Bucket> buckets = new ArrayList<>();
    private final BlockingQueue<Bucket> queue = new ArrayBlockingQueue<>(1 << 16);
    private final BitSet told = new BitSet();
    private final Object lock = new Object();
    private Thread sender;
    private float[] buffer;
    private long step;
    private int filling;             // the index of the bucket being filled
    private int submitted;           // buckets handed to the sender this step
    private int done;                // buckets the sender finished (or skipped after a failure) this step
    private RuntimeException failure;

    /** @param bucketFloats values per bucket: a bucket goes out once it holds at least this many */
    GradientBuckets(GradientExchange exchange, int bucketFloats) {
        if (bucketFloats < 1) {
            throw new IllegalArgumentException("bucketFloats must be positive: " + bucketFloats);
        }
        this.exchange = exchange;
        this.bucketFloats = bucketFloats;
    }

    /** A new step: the ranges told from now on are {@code buffer}'s, final for {@code step}. */
    void begin(float[] buffer, long step) {
        awaitBuckets();                  // a step that failed before finish() may still have buckets in flight
        this.buffer = buffer;
        this.step = step;
        told.clear();
        filling = 0;
        submitted = 0;
        synchronized (lock) {
            done = 0;
            failure = null;
        }
        bucket(0).clear();
    }

    @Override
    public void completed(int offset, int length) {
        if (length == 0) {
            return;
        }
        Bucket bucket = bucket(filling);
        bucket.add(offset, length);
        told.set(offset, offset + length);
        if (bucket.floats >= bucketFloats) {
            submit(bucket);
        }
    }

    /**
     * Sends every value of the buffer not told yet (the rest of the gradient, the loss, the votes) as the last
     * bucket and waits until every bucket of the step is summed; rethrows the first failure.
     */
    void finish() {
        Bucket last = bucket(filling);
        int from = told.nextClearBit(0);
        while (from < buffer.length) {
            int next = told.nextSetBit(from);
            int to = next < 0 ? buffer.length : next;
            last.add(from, to - from);
            from = told.nextClearBit(to);
        }
        submit(last);
        awaitBuckets();
        synchronized (lock) {
            if (failure != null) {
                throw failure;
            }
        }
    }

    private void awaitBuckets() {
        synchronized (lock) {
            while (done < submitted) {
                try {
                    lock.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while the gradient's buckets were summed");
                }
            }
        }
    }

    private Bucket bucket(int index) {
        while (buckets.size() <= index) {
            buckets.add(new Bucket());
        }
        return buckets.get(index);
    }

    private void submit(Bucket bucket) {
        if (bucket.floats == 0) {
            return;
        }
        if (sender == null) {
            sender = new Thread(this::send, "gradient-buckets");
            sender.setDaemon(true);
            sender.start();
        }
        submitted++;
        filling++;
        bucket(filling).clear();
        queue.add(bucket);
    }

    /** The sending thread: gather, all-reduce, scatter, bucket after bucket, in the order they were filled. */
    private void send() {
        while (true) {
            Bucket bucket;
            try {
                bucket = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            boolean skip;
            synchronized (lock) {
                skip = failure != null;
            }
            if (!skip) {
                try {
                    sum(bucket);
                } catch (RuntimeException e) {
                    synchronized (lock) {
                        failure = e;
                    }
                }
            }
            synchronized (lock) {
                done++;
                lock.notifyAll();
            }
        }
    }

    private void sum(Bucket bucket) {
        if (bucket.values.length != bucket.floats) {
            bucket.values = new float[bucket.floats];      // the first step only: buckets repeat
        }
        int at = 0;
        for (int r = 0; r < bucket.rangeCount; r++) {
            System.arraycopy(buffer, bucket.ranges[2 * r], bucket.values, at, bucket.ranges[2 * r + 1]);
            at += bucket.ranges[2 * r + 1];
        }
        exchange.allReduce(bucket.values, step);
        at = 0;
        for (int r = 0; r < bucket.rangeCount; r++) {
            System.arraycopy(bucket.values, at, buffer, bucket.ranges[2 * r], bucket.ranges[2 * r + 1]);
            at += bucket.ranges[2 * r + 1];
        }
    }
}

package io.ringformer.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Objects;

/**
 * What a live worker publishes in its ephemeral node {@code workers/<id>}.
 *
 * <p>JSON: {@code {"host":"node7","endpoint":"aeron:udp?endpoint=10.0.0.7:40123","device":"cpu",
 * "shared_memory":"5f0c…:/dev/shm/ringformer-j-host0/exchange","state":"joining","job_token":"…"}}
 *
 * @param host     the worker's host name, for people reading the cluster's state
 * @param endpoint the Aeron channel the worker receives on (resolved after subscribing on port 0)
 * @param device   e.g. {@code cpu}, {@code cuda:0}
 * @param sharedMemory where the worker's shared-memory all-reduce files live, as {@code <kernel boot id>:<directory>}:
 *                 workers with the same value share one media driver's directory on one machine and can sum in
 *                 memory; empty when the worker runs a media driver of its own
 * @param state    what the worker is doing
 * @param jobToken the token from the job's spec; the coordinator admits only workers that present it
 */
public record WorkerInfo(String host, String endpoint, String device, String sharedMemory, State state,
                         String jobToken) {

    /** A worker's life: joining (registered, no generation yet), syncing (receiving parameters), training, leaving. */
    public enum State {
        JOINING, SYNCING, TRAINING, LEAVING;

        @JsonValue
        public String json() {
            return Json.name(this);
        }

        @JsonCreator
        public static State of(String text) {
            return Json.constant(State.class, text, "worker state");
        }
    }

    public WorkerInfo {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(sharedMemory, "shared_memory");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(jobToken, "job_token");
    }

    public WorkerInfo withState(State next) {
        return new WorkerInfo(host, endpoint, device, sharedMemory, next, jobToken);
    }

    public byte[] encode() {
        return Json.encode(this);
    }

    public static WorkerInfo decode(byte[] bytes) {
        return Json.decode(bytes, WorkerInfo.class, "worker info");
    }

    /** Everything but the token, which is never logged. */
    @Override
    public String toString() {
        return "WorkerInfo[host=" + host + ", endpoint=" + endpoint + ", device=" + device + ", shared_memory="
                + sharedMemory + ", state=" + state
                + ", job_token=(hidden)]";
    }
}

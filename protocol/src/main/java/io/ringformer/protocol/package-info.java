/**
 * The contract between the coordinator and the workers, and nothing else: where things live in ZooKeeper
 * ({@link io.ringformer.protocol.ZkLayout}), the records stored there and their JSON ({@link
 * io.ringformer.protocol.JobSpec}, {@link io.ringformer.protocol.Generation}, {@link
 * io.ringformer.protocol.WorkerInfo}, {@link io.ringformer.protocol.JobStatus}, {@link
 * io.ringformer.protocol.CheckpointManifest}), and the worker's side of ZooKeeper ({@link
 * io.ringformer.protocol.WorkerSession}). Depends on Jackson and Curator only, never on DL4J, so the coordinator
 * and its tests can run real worker sessions.
 */
package io.ringformer.protocol;

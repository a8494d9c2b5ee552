/**
 * The coordinator role: leader election among coordinators ({@link io.ringformer.coordinator.Coordinator}), the
 * rendezvous and the generations written by compare-and-set ({@link io.ringformer.coordinator.GenerationNode}),
 * the shard plan ({@link io.ringformer.coordinator.ShardPlanner}), and a ZooKeeper server for one machine ({@link
 * io.ringformer.coordinator.EmbeddedZooKeeper}). It must never depend on DL4J: it is a small process.
 */
package io.ringformer.coordinator;

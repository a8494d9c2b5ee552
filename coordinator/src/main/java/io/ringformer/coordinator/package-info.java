/**
 * The coordinator role: leader election, rendezvous, generations and the shard plan. Arrives with the cluster issue (#5); it must never depend on DL4J.
 */
package io.ringformer.coordinator;

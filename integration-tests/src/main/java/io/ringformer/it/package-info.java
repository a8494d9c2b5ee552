/**
 * Integration tests on real processes: standalone ZooKeeper, a coordinator and worker JVMs. Arrive with the cluster issue (#5).
 */
package io.ringformer.it;

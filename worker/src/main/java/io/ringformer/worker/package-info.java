/**
 * The worker role: one replica of the model and one training step at a time. The trainer arrives with the single-machine issue (#4).
 */
package io.ringformer.worker;

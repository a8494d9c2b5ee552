package io.ringformer.zoo.family;

/** Which part of a family's data: the part it trains on, or the held-out part it is measured on. */
public enum Split { TRAIN, VAL }

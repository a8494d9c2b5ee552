package io.ringformer.zoo.family;

/** The values of a validated configuration, as a family reads them (the trainer's {@code TrainConfig}). */
public interface Settings {

    int getInt(String key);

    double getDouble(String key);

    String getString(String key);

    boolean getBoolean(String key);
}

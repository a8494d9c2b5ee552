package io.ringformer.zoo.family;

import io.ringformer.zoo.bert.BertFamily;
import io.ringformer.zoo.gpt.GptFamily;
import io.ringformer.zoo.t5.T5Family;
import io.ringformer.zoo.vit.VitFamily;
import java.util.ArrayList;
import java.util.List;

/** The registry of model families: {@code model.family} names one of these. */
public final class ModelFamilies {

    public static final String DEFAULT = "gpt";

    private static final List<ModelFamily> ALL = List.of(new GptFamily(), new BertFamily(), new VitFamily(), new T5Family());

    private ModelFamilies() {}

    public static List<ModelFamily> all() {
        return ALL;
    }

    /** The family called {@code name}, or an {@link IllegalArgumentException} that lists the families. */
    public static ModelFamily named(String name) {
        List<String> names = new ArrayList<>();
        for (ModelFamily family : ALL) {
            if (family.name().equals(name)) {
                return family;
            }
            names.add(family.name());
        }
        throw new IllegalArgumentException("model.family '" + name + "' is not a model family; the families are "
                + String.join(", ", names));
    }

    public static List<String> names() {
        return ALL.stream().map(ModelFamily::name).toList();
    }
}

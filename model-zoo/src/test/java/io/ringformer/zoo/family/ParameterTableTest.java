package io.ringformer.zoo.family;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.Initializer;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.ParameterTable;
import io.ringformer.zoo.attention.PositionType;
import io.ringformer.zoo.bert.Bert;
import io.ringformer.zoo.gpt.Gpt;
import io.ringformer.zoo.vit.Vit;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Every family declares exactly the parameters its graph uses, with the values the graph starts from; the graph is
 * built only when asked for.
 */
class ParameterTableTest {

    static Stream<GraphModel> models() {
        return Stream.of(
                Gpt.build(new Gpt.Config(11, 7, 2, 3, 12, 0, PositionType.LEARNED), DataType.FLOAT, 5, false),
                Gpt.build(new Gpt.Config(11, 7, 2, 3, 12, 0, PositionType.ROPE), DataType.FLOAT, 5, false),
                Bert.build(new Bert.Config(13, 8, 2, 3, 12, 0), DataType.FLOAT, 5, false),
                Vit.build(new Vit.Config(12, 8, 4, 5, 2, 3, 12, 0), 5, false, MixedPrecision.FP32));
    }

    @ParameterizedTest
    @MethodSource("models")
    void theGraphHasTheDeclaredParametersWithTheirInitialValues(GraphModel model) {
        assertFalse(model.graphBuilt(), "building a model does not build its graph");
        SameDiff sd = model.graph();
        List<String> variables = new ArrayList<>();
        sd.variables().forEach(v -> {
            if (v.getVariableType() == VariableType.VARIABLE) {
                variables.add(v.name());
            }
        });
        assertEquals(variables, model.parameterNames(), "the graph's trainable variables, as SameDiff lists them");
        for (ParameterTable.Parameter parameter : model.parameters().all()) {
            assertArrayEquals(parameter.shape(), sd.getArrForVarName(parameter.name()).shape(), parameter.name());
            float[] expected = new float[parameter.size()];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = (float) parameter.initial()[i];
            }
            assertArrayEquals(expected, sd.getArrForVarName(parameter.name()).data().asFloat(), parameter.name());
        }
    }

    /** The values are those the graph code drew before tables existed: one seeded stream in declaration order. */
    @Test
    void valuesAreDrawnInDeclarationOrderFromTheSeed() {
        ParameterTable table = new ParameterTable(new Initializer(3, DataType.FLOAT));
        table.normal("a", 0.02, 2, 3);
        table.zeros("b", 3);
        table.ones("c", 2);
        table.normal("d", 1.0, 4);
        Initializer reference = new Initializer(3, DataType.FLOAT);
        assertArrayEquals(reference.normalValues(0.02, 6), table.get("a").initial());
        assertArrayEquals(new double[3], table.get("b").initial());
        assertArrayEquals(new double[] {1, 1}, table.get("c").initial());
        assertArrayEquals(reference.normalValues(1.0, 4), table.get("d").initial(), "zeros and ones draw nothing");
        assertEquals(List.of("a", "b", "c", "d"), table.names());
        IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> table.zeros("a", 1));
        assertTrue(twice.getMessage().contains("declared twice"), twice.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> table.get("e"));
        assertTrue(missing.getMessage().contains("no parameter e"), missing.getMessage());
    }
}

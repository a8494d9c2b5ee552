package io.ringformer.zoo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A model's trainable parameters, declared before any graph exists: names in the order declared (the order the
 * graph creates them), shapes, and initial values drawn from one seeded {@link Initializer} in that order. The
 * SameDiff graph takes its variables from here ({@link #var}); the fused step takes the values without a graph, so
 * a run on the fused backend never builds one nor loads ND4J's native backend (two seconds of every worker's
 * start-up here).
 */
public final class ParameterTable {

    /** One parameter: its shape and initial values (double, cast to the graph's type when it is built). */
    public record Parameter(String name, long[] shape, double[] initial) {
        public int size() {
            return initial.length;
        }
    }

    private final Initializer init;
    private final Map<String, Parameter> parameters = new LinkedHashMap<>();

    public ParameterTable(Initializer init) {
        this.init = init;
    }

    /** Normal(0, std²) values, GPT-2's initialisation of weights and embeddings. */
    public void normal(String name, double std, long... shape) {
        add(name, shape, init.normalValues(std, Initializer.count(shape)));
    }

    public void zeros(String name, long... shape) {
        add(name, shape, new double[Math.toIntExact(Initializer.count(shape))]);
    }

    public void ones(String name, long... shape) {
        double[] values = new double[Math.toIntExact(Initializer.count(shape))];
        java.util.Arrays.fill(values, 1.0);
        add(name, shape, values);
    }

    /** Draws a declared parameter's initial values again, from U(−bound, bound). */
    public void redrawUniform(String name, double bound) {
        Parameter old = get(name);
        parameters.put(name, new Parameter(name, old.shape(), init.uniformValues(bound, old.initial().length)));
    }

    /** Draws a declared parameter's initial values again, from N(0, std²). */
    public void redrawNormal(String name, double std) {
        Parameter old = get(name);
        parameters.put(name, new Parameter(name, old.shape(), init.normalValues(std, old.initial().length)));
    }

    /** Given initial values (an identity matrix, say), row-major in {@code shape}. */
    public void values(String name, double[] values, long... shape) {
        if (values.length != Initializer.count(shape)) {
            throw new IllegalArgumentException(name + ": " + values.length + " values for shape "
                    + java.util.Arrays.toString(shape));
        }
        add(name, shape, values.clone());
    }

    private void add(String name, long[] shape, double[] values) {
        if (parameters.putIfAbsent(name, new Parameter(name, shape.clone(), values)) != null) {
            throw new IllegalArgumentException("parameter " + name + " is declared twice");
        }
    }

    public Parameter get(String name) {
        Parameter parameter = parameters.get(name);
        if (parameter == null) {
            throw new IllegalArgumentException("no parameter " + name + " was declared (declared: "
                    + parameters.keySet() + ")");
        }
        return parameter;
    }

    /** The parameters in the order declared. */
    public List<Parameter> all() {
        return List.copyOf(parameters.values());
    }

    public List<String> names() {
        return new ArrayList<>(parameters.keySet());
    }

    /** The data type of the graphs built from this table (FLOAT; DOUBLE for gradient checks). */
    public org.nd4j.linalg.api.buffer.DataType dataType() {
        return init.dataType();
    }

    /** The graph variable of parameter {@code name}, created with its initial values in the graph's type. */
    public SDVariable var(SameDiff sd, String name) {
        Parameter parameter = get(name);
        return sd.var(name, Nd4j.createFromArray(parameter.initial()).reshape(parameter.shape())
                .castTo(init.dataType()));
    }
}

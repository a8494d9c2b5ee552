package io.ringformer.zoo.family;

import io.ringformer.zoo.Dropout;
import io.ringformer.zoo.ParameterTable;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What the families' models share: parameters declared up front ({@link ParameterTable}), and a SameDiff graph
 * built from them only when something asks for it — the SameDiff backend, inference, a test — never for a run on
 * the fused step. A family's model declares its parameters, then writes {@link #define}, its graph, top to bottom.
 */
public abstract class GraphModel implements Model {

    /** What a transformer's fused step lacks for a model with this dropout and attention, or null. */
    protected static String fusedGap(double dropout, io.ringformer.zoo.attention.Attention attention) {
        return dropout > 0 ? "dropout (model.dropout " + dropout + ")" : attention.fusedGap();
    }

    private final ParameterTable parameters;
    private final double dropoutProbability;
    private SameDiff sd;
    private Dropout dropout;

    /** @param dropout the drop probability of the graph's dropout; 0 for an inference model */
    protected GraphModel(ParameterTable parameters, double dropout) {
        this.parameters = parameters;
        this.dropoutProbability = dropout;
    }

    /** Builds the graph: its variables from {@code table}, its dropout (inactive at probability 0) by {@code dropout}. */
    protected abstract void define(SameDiff sd, ParameterTable table, Dropout dropout);

    @Override
    public final SameDiff graph() {
        if (sd == null) {
            SameDiff graph = SameDiff.create();
            dropout = new Dropout(graph, dropoutProbability);
            define(graph, parameters, dropout);
            sd = graph;
        }
        return sd;
    }

    /** Whether the graph has been built (a run on the fused step never builds it). */
    public final boolean graphBuilt() {
        return sd != null;
    }

    @Override
    public final ParameterTable parameters() {
        return parameters;
    }

    /**
     * The parameters in name order: the order in which SameDiff lists a graph's variables, which the flat layout has
     * always followed. Checkpoints hold the flat vector without names, so this order is part of their format.
     */
    @Override
    public final List<String> parameterNames() {
        return parameters.names().stream().sorted().toList();
    }

    @Override
    public final boolean hasDropout() {
        return dropoutProbability > 0;
    }

    /** Dropout masks for rows [first, first + count) of step {@code step}'s global batch; empty without dropout. */
    @Override
    public final Map<String, INDArray> dropoutNoise(long seed, long step, int first, int count) {
        graph();
        return dropout.noise(seed, step, first, count);
    }
}

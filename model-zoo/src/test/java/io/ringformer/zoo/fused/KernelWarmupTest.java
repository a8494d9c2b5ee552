package io.ringformer.zoo.fused;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Proxy;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class KernelWarmupTest {

    /** A kernel the warm-up leaves out stays in the Vector API's slow fallback for the first steps of every run. */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void callsEveryKernelOnBuffersItsShapesFit(boolean vector) {
        Kernels real = vector ? new VectorKernels() : new ScalarKernels();
        Set<String> called = new TreeSet<>();
        Kernels recording = (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(),
                new Class<?>[] {Kernels.class}, (proxy, method, args) -> {
                    called.add(method.getName());
                    try {
                        return method.invoke(real, args);     // the real kernel: an index out of range throws
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });

        KernelWarmup.run(recording, 2);

        Set<String> kernels = Arrays.stream(Kernels.class.getMethods())
                .filter(m -> !Modifier.isStatic(m.getModifiers()) && !m.getName().equals("name"))
                .map(Method::getName).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(kernels, called);
    }
}

package dev.kvlab;

import ai.djl.ndarray.*;
import ai.djl.ndarray.types.*;
import ai.djl.engine.Engine;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.*;

class DjlSmokeTest {
    @Test void engineRuns() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.create(new float[]{1,2,3,4}, new Shape(2,2));
            NDArray b = a.matMul(a);
            System.out.println("ENGINE " + Engine.getInstance().getEngineName() + " " + Engine.getInstance().getVersion() + " " + b);
            NDArray h = a.toType(DataType.FLOAT16, false);
            System.out.println("F16 " + h.toType(DataType.FLOAT32,false));
            assertEquals(7f, b.getFloat(0,0));
        }
    }
}

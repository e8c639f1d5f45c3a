#!/usr/bin/env python3
"""Writes the benchmark's committed ONNX fixture: bench/server/models/scale-fp32.

    $TESSERA_PYTHON bench/server/make-models.py

(TESSERA_PYTHON is the Python test peer's virtualenv, test/peers/python.peer.mjs; it has onnx and
onnxruntime pinned.) The model is FP32 x [-1,-1] -> y = 2 * x (one Mul with a scalar initializer),
opset 17, IR version 8 — the same conventions as scripts/make-models.py. It is used by the
Tessera-only payload sweep (JSON vs binary extension vs gRPC raw, 65,536 elements).

The iris model for MLServer is not committed: bench/server/train_iris.py trains it at bench time.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    folder = os.path.join(HERE, "models", "scale-fp32")
    os.makedirs(folder, exist_ok=True)
    dims = ["n", "m"]
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), name="two")
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["y"], name="scale")],
        "scale-fp32",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)],
        [two],
    )
    model = helper.make_model(
        graph,
        producer_name="tessera-bench",
        opset_imports=[helper.make_opsetid("", 17)],
        ir_version=8,
    )
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(folder, "model.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString(deterministic=True))
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"x": np.ones((1, 8), dtype=np.float32)})
    assert float(y.sum()) == 16.0
    settings = {
        "name": "scale-fp32",
        "implementation": "onnx",
        "parameters": {"uri": "./model.onnx"},
    }
    with open(os.path.join(folder, "model-settings.json"), "w") as f:
        f.write(json.dumps(settings, indent=2) + "\n")
    print(f"wrote {os.path.relpath(path, os.getcwd())} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()

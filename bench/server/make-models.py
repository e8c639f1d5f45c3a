#!/usr/bin/env python3
"""Writes the benchmark's committed ONNX fixtures: bench/server/models/scale-fp32 and identity.

    $TESSERA_PYTHON bench/server/make-models.py

(TESSERA_PYTHON is the Python test peer's virtualenv, test/peers/python.peer.mjs; it has onnx and
onnxruntime pinned.) bench/server/models/scale-fp32: FP32 x [-1,-1] -> y = 2 * x (one Mul with a scalar initializer),
opset 17, IR version 8 — the same conventions as scripts/make-models.py. It is used by the
Tessera-only payload sweep (JSON vs binary extension vs gRPC raw, 65,536 elements).

bench/server/models/identity: FP32 INPUT0 [-1,-1] -> OUTPUT0 = INPUT0 (one Identity node), the
ONNX side of the identity model in the comparison with Triton (whose python-backend twin is
models/triton/identity).

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


def write(name: str, graph, check) -> None:
    """Checks `graph`, saves it as models/<name>/model.onnx with its model-settings.json, runs `check`."""
    folder = os.path.join(HERE, "models", name)
    os.makedirs(folder, exist_ok=True)
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
    check(ort.InferenceSession(path, providers=["CPUExecutionProvider"]))
    settings = {"name": name, "implementation": "onnx", "parameters": {"uri": "./model.onnx"}}
    with open(os.path.join(folder, "model-settings.json"), "w") as f:
        f.write(json.dumps(settings, indent=2) + "\n")
    print(f"wrote {os.path.relpath(path, os.getcwd())} ({os.path.getsize(path)} bytes)")


def scale_fp32() -> None:
    dims = ["n", "m"]
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), name="two")
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["y"], name="scale")],
        "scale-fp32",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)],
        [two],
    )

    def check(sess) -> None:
        (y,) = sess.run(None, {"x": np.ones((1, 8), dtype=np.float32)})
        assert float(y.sum()) == 16.0

    write("scale-fp32", graph, check)


def identity() -> None:
    # The names are those of the python-backend identity Triton serves in the Triton comparison
    # (models/triton/identity), so one perf_analyzer command line fits both servers.
    dims = ["n", "m"]
    graph = helper.make_graph(
        [helper.make_node("Identity", ["INPUT0"], ["OUTPUT0"], name="identity")],
        "identity",
        [helper.make_tensor_value_info("INPUT0", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("OUTPUT0", TensorProto.FLOAT, dims)],
    )

    def check(sess) -> None:
        x = np.arange(12, dtype=np.float32).reshape(3, 4)
        (y,) = sess.run(None, {"INPUT0": x})
        assert np.array_equal(x, y)

    write("identity", graph, check)


def main() -> None:
    scale_fp32()
    identity()


if __name__ == "__main__":
    main()

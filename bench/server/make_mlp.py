#!/usr/bin/env python3
"""Writes the batching benchmark's MLP as two Tessera model folders, batching on and off.

    $TESSERA_PYTHON bench/server/make_mlp.py --out DIR [--batch-size 32] [--batch-time 0.002]

(TESSERA_PYTHON is the Python test peer's virtualenv, test/peers/python.peer.mjs, with onnx and
onnxruntime pinned.) The model is a compute-heavier ONNX MLP than iris: FP32 x [-1, 1024] ->
Gemm 1024x4096 -> Relu -> Gemm 4096x4096 -> Relu -> Gemm 4096x16 -> y [-1, 16], weights drawn
from a seeded generator, opset 17 (84 MB, written at bench time, not committed). With one row per
request the three matrix products are matrix-vector products that stream all the weights from
memory for every request; batching turns them into matrix-matrix products that reuse each weight
across the batch's rows. Writes

  DIR/mlp/              model.onnx, model-settings.json (no batching)
  DIR/mlp-batched/      the same model.onnx, max_batch_size / max_batch_time set

and prints one JSON line {"row": [...], "y": [...]}: onnxruntime's answer for one row, which the
harness compares with both models' answers before measuring.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

SIZES = [1024, 4096, 4096, 16]


def build() -> onnx.ModelProto:
    rng = np.random.default_rng(20261203)
    nodes, inits = [], []
    current = "x"
    for i, (n_in, n_out) in enumerate(zip(SIZES, SIZES[1:])):
        w = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
        b = (rng.standard_normal(n_out) * 0.01).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        last = i == len(SIZES) - 2
        out = "y" if last else f"h{i}"
        nodes.append(helper.make_node("Gemm", [current, f"w{i}", f"b{i}"], [out if last else f"g{i}"]))
        if not last:
            nodes.append(helper.make_node("Relu", [f"g{i}"], [out]))
        current = out
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", SIZES[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", SIZES[-1]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--batch-time", type=float, default=0.002)
    args = ap.parse_args()
    data = build().SerializeToString()
    for name, batching in (("mlp", {}), ("mlp-batched", {"max_batch_size": args.batch_size, "max_batch_time": args.batch_time})):
        folder = os.path.join(args.out, name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "model.onnx"), "wb") as f:
            f.write(data)
        settings = {"name": name, "implementation": "onnx", **batching, "parameters": {"uri": "./model.onnx", "version": "1"}}
        with open(os.path.join(folder, "model-settings.json"), "w") as f:
            json.dump(settings, f, indent=2)
    row = np.random.default_rng(7).standard_normal((1, SIZES[0])).astype(np.float32)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    y = session.run(["y"], {"x": row})[0]
    print(json.dumps({"row": row[0].tolist(), "y": y[0].tolist()}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes Tessera's example models and test fixture models, deterministically.

Regenerate (from the repository root, with the Python test peer's virtualenv, whose pinned
versions in test/peers/python/requirements.txt make the output reproducible on any CPU: byte for
byte for the hand-built graphs, within one float32 ulp per parameter for the trained iris model,
see fit_to_the_optimum):

    $TESSERA_PYTHON scripts/make-models.py            # (re)write the committed models
    $TESSERA_PYTHON scripts/make-models.py --check    # regenerate in a temp dir, compare, exit 1 on drift

(TESSERA_PYTHON is what test/peers/python.peer.mjs returns; `node scripts/run-tests.mjs
integration` provisions it.) The outputs are committed:

  examples/models/iris/                 scikit-learn LogisticRegression (newton-cholesky, trained
                                        to its optimum) on load_iris(), skl2onnx,
                                        zipmap=False: input FP32 [-1,4] -> label INT64 [-1],
                                        probabilities FP32 [-1,3]
  examples/models/simple/               Triton's classic `simple`: INT32 INPUT0, INPUT1 [-1,16] ->
                                        OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1
  test/fixtures/models/strings/         BYTES input [-1] -> Identity -> BYTES output [-1]
  test/fixtures/models/fp64-scale/      FP64 x [-1,3] -> y = 2 * x
  test/fixtures/models/versioned/1, /2  name `versioned`, FP32 x [-1,2] -> y = x + 1 (v1), x + 2 (v2)
  test/fixtures/models/broken/          model-settings.json pointing at a model.onnx of garbage bytes

Hand-built graphs use opset 17 and IR version 8, which onnxruntime-node 1.30 loads.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPSET = 17
ML_OPSET = 3
IR_VERSION = 8
SEED = 20240607

written: list[str] = []


OUT_ROOT = [ROOT]


def rel(path: str) -> str:
    return os.path.relpath(path, OUT_ROOT[0])


def write_bytes(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    written.append(f"{rel(path)} ({len(data)} bytes)")


def write_settings(folder: str, settings: dict) -> None:
    text = json.dumps(settings, indent=2) + "\n"
    write_bytes(os.path.join(folder, "model-settings.json"), text.encode())


def write_model(folder: str, model: onnx.ModelProto) -> str:
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(folder, "model.onnx")
    write_bytes(path, model.SerializeToString(deterministic=True))
    # Every written model must load in onnxruntime (the Python one here; see the report for Node).
    ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return path


def make_graph_model(name: str, nodes, inputs, outputs, initializers=()) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs), list(initializers))
    model = helper.make_model(
        graph,
        producer_name="tessera-make-models",
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
    )
    return model


# The trained model must not depend on the CPU. The L2-penalised multinomial log-loss is strictly
# convex (in sklearn's symmetric parametrisation), so it has one minimiser, and only an early stop
# lets the CPU show: lbfgs's default gtol=1e-4 on float32 data stops wherever the BLAS kernel's
# rounding steered it (up to 1.3 % apart between OpenBLAS's Zen and SkylakeX kernels). Newton's
# method on float64 data converges quadratically to the minimiser itself, so every CPU ends within
# float64 noise of it (measured: 2.4e-13 relative across OpenBLAS_CORETYPE Prescott, Sandybridge,
# Zen and SkylakeX and a permutation of the rows); rounding to the model's float32 then agrees
# except where a value lies that close to a rounding boundary, i.e. by at most one float32 ulp.
NEWTON_TOL = 1e-12
TRAINED_ULPS = 1


def fit_to_the_optimum(estimator, x: np.ndarray, y: np.ndarray):
    """Fits to the unique optimum: float64 data, newton-cholesky to max|gradient| and Newton decrement
    <= NEWTON_TOL. A ConvergenceWarning (including sklearn's silent fallback to lbfgs) is an error."""
    import warnings

    from scipy.linalg import LinAlgWarning
    from sklearn.exceptions import ConvergenceWarning

    clf = estimator(solver="newton-cholesky", tol=NEWTON_TOL, max_iter=100, random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("error", LinAlgWarning)
        clf.fit(x.astype(np.float64), y)
    return clf


def iris(folder: str) -> None:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    data = load_iris()
    x = data.data.astype(np.float32)  # what the ONNX model receives
    y = data.target
    clf = fit_to_the_optimum(LogisticRegression, x, y)
    model = convert_sklearn(
        clf,
        name="iris",
        initial_types=[("input", FloatTensorType([None, 4]))],
        options={id(clf): {"zipmap": False}},
        target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
    )
    model.ir_version = IR_VERSION
    model.producer_version = ""  # keep the bytes independent of the converter's build
    path = write_model(folder, model)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    label, proba = sess.run(None, {"input": x})
    acc = float((label == y).mean())
    print(f"  iris: training accuracy {acc:.3f}, probabilities shape {proba.shape}")
    write_settings(
        folder,
        {"name": "iris", "implementation": "onnx", "parameters": {"uri": "./model.onnx", "version": "1"}},
    )


def simple(folder: str) -> None:
    dims = ["batch", 16]
    model = make_graph_model(
        "simple",
        [
            helper.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"], name="add"),
            helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"], name="sub"),
        ],
        [
            helper.make_tensor_value_info("INPUT0", TensorProto.INT32, dims),
            helper.make_tensor_value_info("INPUT1", TensorProto.INT32, dims),
        ],
        [
            helper.make_tensor_value_info("OUTPUT0", TensorProto.INT32, dims),
            helper.make_tensor_value_info("OUTPUT1", TensorProto.INT32, dims),
        ],
    )
    write_model(folder, model)
    write_settings(folder, {"name": "simple", "implementation": "onnx", "parameters": {"uri": "./model.onnx"}})


def strings(folder: str) -> None:
    model = make_graph_model(
        "strings",
        [helper.make_node("Identity", ["input"], ["output"], name="identity")],
        [helper.make_tensor_value_info("input", TensorProto.STRING, ["n"])],
        [helper.make_tensor_value_info("output", TensorProto.STRING, ["n"])],
    )
    write_model(folder, model)
    write_settings(folder, {"name": "strings", "implementation": "onnx", "parameters": {"uri": "./model.onnx"}})


def fp64_scale(folder: str) -> None:
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float64), name="two")
    model = make_graph_model(
        "fp64-scale",
        [helper.make_node("Mul", ["x", "two"], ["y"], name="scale")],
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["batch", 3])],
        [two],
    )
    write_model(folder, model)
    write_settings(
        folder, {"name": "fp64-scale", "implementation": "onnx", "parameters": {"uri": "./model.onnx"}}
    )


def versioned(folder: str) -> None:
    for version in (1, 2):
        sub = os.path.join(folder, str(version))
        offset = numpy_helper.from_array(np.array(float(version), dtype=np.float32), name="offset")
        model = make_graph_model(
            f"versioned-v{version}",
            [helper.make_node("Add", ["x", "offset"], ["y"], name="add_offset")],
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
            [offset],
        )
        write_model(sub, model)
        write_settings(
            sub,
            {
                "name": "versioned",
                "implementation": "onnx",
                "parameters": {"uri": "./model.onnx", "version": str(version)},
            },
        )


def broken(folder: str) -> None:
    write_bytes(os.path.join(folder, "model.onnx"), b"this is not an ONNX model\n")
    write_settings(folder, {"name": "broken", "implementation": "onnx", "parameters": {"uri": "./model.onnx"}})


def generate(root: str) -> None:
    OUT_ROOT[0] = root
    written.clear()
    np.random.seed(SEED)
    examples = os.path.join(root, "examples", "models")
    fixtures = os.path.join(root, "test", "fixtures", "models")
    iris(os.path.join(examples, "iris"))
    simple(os.path.join(examples, "simple"))
    strings(os.path.join(fixtures, "strings"))
    fp64_scale(os.path.join(fixtures, "fp64-scale"))
    versioned(os.path.join(fixtures, "versioned"))
    broken(os.path.join(fixtures, "broken"))


def within_ulps(x, y) -> bool:
    """Float32 values at most TRAINED_ULPS float32 ulps apart (see fit_to_the_optimum for why)."""
    x32, y32 = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32)
    if x32.shape != y32.shape:
        return False
    ulp = np.spacing(np.maximum(np.abs(x32), np.abs(y32)))
    return bool(np.all(np.abs(x32.astype(np.float64) - y32.astype(np.float64)) <= TRAINED_ULPS * ulp))


def same_trained_model(a_path: str, b_path: str) -> bool:
    """Same graph, inputs, outputs and every non-float value; float initializers and attributes
    (e.g. LinearClassifier coefficients) within TRAINED_ULPS float32 ulps, because a trained model's
    float32 parameters are the rounding of a float64 optimum known to ~1e-12 relative, not bits."""
    a, b = onnx.load(a_path), onnx.load(b_path)
    if (a.ir_version, list(a.opset_import), a.producer_name) != (b.ir_version, list(b.opset_import), b.producer_name):
        return False
    a_init = {t.name: numpy_helper.to_array(t) for t in a.graph.initializer}
    b_init = {t.name: numpy_helper.to_array(t) for t in b.graph.initializer}
    if a_init.keys() != b_init.keys():
        return False
    for name, x in a_init.items():
        y = b_init[name]
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        if not (within_ulps(x, y) if np.issubdtype(x.dtype, np.floating) else np.array_equal(x, y)):
            return False
    return same_nodes(a.graph.node, b.graph.node) and a.graph.input == b.graph.input and a.graph.output == b.graph.output


def same_nodes(a_nodes, b_nodes) -> bool:
    if len(a_nodes) != len(b_nodes):
        return False
    for x, y in zip(a_nodes, b_nodes):
        if (x.op_type, x.domain, x.name, list(x.input), list(x.output)) != (
            y.op_type,
            y.domain,
            y.name,
            list(y.input),
            list(y.output),
        ):
            return False
        xa = {attr.name: helper.get_attribute_value(attr) for attr in x.attribute}
        ya = {attr.name: helper.get_attribute_value(attr) for attr in y.attribute}
        if xa.keys() != ya.keys():
            return False
        for key, xv in xa.items():
            yv = ya[key]
            is_floats = isinstance(xv, float) or (isinstance(xv, list) and xv and isinstance(xv[0], float))
            if not (within_ulps(xv, yv) if is_floats else xv == yv):
                return False
    return True


TRAINED = {os.path.join("examples", "models", "iris", "model.onnx")}


def check() -> int:
    """Regenerates into a temporary folder and compares with the committed files: byte for byte,
    except trained models, which are compared within one float32 ulp (see same_trained_model)."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp)
        drift = []
        for line in written:
            path = line.rsplit(" (", 1)[0]
            committed = os.path.join(ROOT, path)
            fresh = os.path.join(tmp, path)
            if not os.path.isfile(committed):
                drift.append(path)
            elif path in TRAINED:
                if not same_trained_model(fresh, committed):
                    drift.append(path)
            elif not filecmp.cmp(fresh, committed, shallow=False):
                drift.append(path)
    if drift:
        print("committed models differ from a regeneration: " + ", ".join(drift))
        return 1
    print(f"all {len(written)} committed model files match a regeneration")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Write Tessera's example and fixture models.")
    parser.add_argument("--check", action="store_true", help="compare a regeneration with the committed files")
    args = parser.parse_args()
    print(f"models with onnx {onnx.__version__}, onnxruntime {ort.__version__}")
    if args.check:
        return check()
    generate(ROOT)
    print("wrote:")
    for line in written:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

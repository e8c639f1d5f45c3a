#!/usr/bin/env python3
"""Reference oracle: runs an ONNX model with Python onnxruntime and prints its outputs as JSON.

    $TESSERA_PYTHON test/peers/python/onnx_reference.py --model path/model.onnx --inputs inputs.json

--inputs is a JSON file (or `-` for stdin) in either form:
  {"INPUT0": {"data": [...], "shape": [1, 16], "datatype": "INT32"}, ...}       (a map by name)
  {"inputs": [{"name": "INPUT0", "shape": [1, 16], "datatype": "INT32", "data": [...]}]}  (V2 body)
`data` may be flat (row-major, as in V2) or nested; `shape` defaults to the nested data's shape;
`datatype` is a V2 name (BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES) and defaults
to the model input's type. BYTES data are strings (UTF-8).
--outputs NAME[,NAME...] restricts the outputs (default: all, in the model's order).

Prints ONE JSON object on stdout:
  {"outputs": [{"name", "datatype" (V2), "dtype" (numpy), "shape", "data" (flat, row-major)}],
   "inputs":  [{"name", "datatype", "shape"} as the model declares them, -1 = dynamic],
   "model_outputs": [{"name", "datatype", "shape"} as the model declares them]}
Floats are printed as the exact double value of each element (an FP32 element is the double that
Math.fround yields in JS); NaN and +/-Infinity are the strings "NaN", "Infinity", "-Infinity".
On an error it prints {"error": "..."} on stdout and exits 1.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

V2_TO_NUMPY = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.object_,
}
ORT_TO_V2 = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}


def numpy_to_v2(arr: np.ndarray) -> str:
    if arr.dtype == np.object_ or arr.dtype.kind in ("U", "S"):
        return "BYTES"
    for name, dtype in V2_TO_NUMPY.items():
        if name != "BYTES" and arr.dtype == np.dtype(dtype):
            return name
    return str(arr.dtype)


def to_json_value(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return f
    return value


def parse_inputs(doc) -> list[dict]:
    if isinstance(doc, dict) and isinstance(doc.get("inputs"), list):
        return doc["inputs"]
    if isinstance(doc, dict):
        return [{"name": name, **spec} for name, spec in doc.items()]
    raise ValueError("inputs JSON must be an object keyed by input name or a V2 body with `inputs`")


def to_array(spec: dict, declared: dict) -> np.ndarray:
    datatype = spec.get("datatype") or declared.get(spec["name"])
    if datatype not in V2_TO_NUMPY:
        raise ValueError(f"input {spec['name']}: unknown datatype {datatype!r}")
    data = spec.get("data")
    if data is None:
        raise ValueError(f"input {spec['name']}: no data")
    if datatype == "BYTES":
        arr = np.array(data, dtype=np.object_)
    elif datatype in ("FP16", "FP32", "FP64"):
        arr = np.array(
            [float(x) for x in np.array(data, dtype=np.object_).reshape(-1)], dtype=V2_TO_NUMPY[datatype]
        ).reshape(np.array(data, dtype=np.object_).shape)
    else:
        arr = np.array(data, dtype=V2_TO_NUMPY[datatype])
    shape = spec.get("shape")
    return arr.reshape(shape) if shape is not None else arr


def meta(arg) -> dict:
    return {
        "name": arg.name,
        "datatype": ORT_TO_V2.get(arg.type, arg.type),
        "shape": [d if isinstance(d, int) and d >= 0 else -1 for d in arg.shape],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="path of the .onnx file")
    parser.add_argument("--inputs", required=True, help="JSON file with the inputs, or - for stdin")
    parser.add_argument("--outputs", help="comma-separated output names (default: all)")
    args = parser.parse_args()
    try:
        import onnxruntime as ort

        session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
        declared = {i.name: ORT_TO_V2.get(i.type) for i in session.get_inputs()}
        if args.inputs == "-":
            doc = json.load(sys.stdin)
        else:
            with open(args.inputs, encoding="utf-8") as f:
                doc = json.load(f)
        feeds = {spec["name"]: to_array(spec, declared) for spec in parse_inputs(doc)}
        names = args.outputs.split(",") if args.outputs else [o.name for o in session.get_outputs()]
        results = session.run(names, feeds)
        outputs = []
        for name, value in zip(names, results):
            arr = np.asarray(value)
            outputs.append(
                {
                    "name": name,
                    "datatype": numpy_to_v2(arr),
                    "dtype": str(arr.dtype),
                    "shape": list(arr.shape),
                    "data": [to_json_value(v) for v in arr.reshape(-1).tolist()]
                    if arr.dtype != np.object_
                    else [to_json_value(v) for v in arr.reshape(-1)],
                }
            )
        out = {
            "outputs": outputs,
            "inputs": [meta(i) for i in session.get_inputs()],
            "model_outputs": [meta(o) for o in session.get_outputs()],
        }
    except Exception as e:  # noqa: BLE001 - reported as JSON for the Node caller
        sys.stdout.write(json.dumps({"error": f"{type(e).__name__}: {e}"}) + "\n")
        return 1
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

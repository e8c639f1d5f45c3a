#!/usr/bin/env python3
"""Conformance checks of a V2 / Open Inference Protocol server with the OFFICIAL Triton clients.

Run by Tessera's Node integration tests against a running server:

    $TESSERA_PYTHON test/peers/python/triton_conformance.py \
        --http localhost:8080 --grpc localhost:8081 --models-dir examples/models

It needs the `simple` and `iris` example models loaded. The reference outputs and metadata come
from Python onnxruntime on the same .onnx files (found through each model-settings.json).

Prints ONE JSON object on stdout:
    {"checks": [{"name": "http.server_live", "ok": true, "detail": "..."}, ...]}
and exits 0 even when checks fail (the Node test asserts each check); 2 only for bad arguments.
Every client call is bounded by --timeout seconds. A failing check records ok=false with the
exception text and never stops the others. Diagnostics go to stderr.

The unload/load checks change the server's state: `simple` is unloaded and loaded again over
HTTP, then over gRPC; the script tries to leave `simple` loaded whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from typing import Any, Callable

import numpy as np

CHECKS: list[dict[str, Any]] = []

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
    "tensor(bfloat16)": "BF16",
}

IRIS_ROWS = np.array(
    [
        [5.1, 3.5, 1.4, 0.2],
        [7.0, 3.2, 4.7, 1.4],
        [6.3, 3.3, 6.0, 2.5],
        [5.9, 3.0, 5.1, 1.8],
        [4.9, 2.4, 3.3, 1.0],
    ],
    dtype=np.float32,
)
IRIS_TOLERANCE = 1e-6


def log(message: str) -> None:
    print(f"[triton_conformance] {message}", file=sys.stderr, flush=True)


def check(name: str, fn: Callable[[], Any]) -> bool:
    """Runs fn; a returned string is the detail; an exception or AssertionError fails the check."""
    try:
        detail = fn()
        CHECKS.append({"name": name, "ok": True, "detail": "" if detail is None else str(detail)})
        return True
    except Exception as e:  # noqa: BLE001 - every failure becomes a failed check
        text = f"{type(e).__name__}: {e}"
        status = getattr(e, "status", None)
        if callable(status):
            try:
                text += f" (status {status()})"
            except Exception:  # noqa: BLE001
                pass
        CHECKS.append({"name": name, "ok": False, "detail": text.strip()})
        log(f"FAIL {name}: {text}")
        if os.environ.get("TESSERA_CONFORMANCE_DEBUG"):
            traceback.print_exc(file=sys.stderr)
        return False


def expect(cond: bool, message: str) -> None:
    if not cond:
        raise AssertionError(message)


# ---------------------------------------------------------------- references (Python onnxruntime)


class Reference:
    """A model's onnxruntime session and the V2 metadata it implies."""

    def __init__(self, models_dir: str, name: str):
        import onnxruntime as ort

        folder = os.path.join(models_dir, name)
        with open(os.path.join(folder, "model-settings.json"), encoding="utf-8") as f:
            settings = json.load(f)
        uri = (settings.get("parameters") or {}).get("uri") or "./model.onnx"
        path = os.path.normpath(os.path.join(folder, uri))
        self.name = name
        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.inputs = [self._meta(a) for a in self.session.get_inputs()]
        self.outputs = [self._meta(a) for a in self.session.get_outputs()]

    @staticmethod
    def _meta(arg) -> dict[str, Any]:
        shape = [d if isinstance(d, int) and d >= 0 else -1 for d in arg.shape]
        return {"name": arg.name, "datatype": ORT_TO_V2.get(arg.type, arg.type), "shape": shape}

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [o["name"] for o in self.outputs]
        return dict(zip(names, self.session.run(names, feeds)))


def normalise_tensors(tensors) -> list[dict[str, Any]]:
    out = []
    for t in tensors or []:
        out.append(
            {
                "name": t["name"],
                "datatype": t["datatype"],
                "shape": [int(d) for d in t.get("shape", [])],
            }
        )
    return out


def compare_metadata(meta: dict[str, Any], ref: Reference) -> str:
    expect(meta.get("name") == ref.name, f"name {meta.get('name')!r} != {ref.name!r}")
    for kind, expected in (("inputs", ref.inputs), ("outputs", ref.outputs)):
        got = normalise_tensors(meta.get(kind))
        got_by_name = {t["name"]: t for t in got}
        expect(
            sorted(got_by_name) == sorted(t["name"] for t in expected),
            f"{kind} names {sorted(got_by_name)} != {sorted(t['name'] for t in expected)}",
        )
        for t in expected:
            g = got_by_name[t["name"]]
            expect(g["datatype"] == t["datatype"], f"{kind} {t['name']} datatype {g['datatype']} != {t['datatype']}")
            expect(g["shape"] == t["shape"], f"{kind} {t['name']} shape {g['shape']} != {t['shape']}")
    return f"inputs {ref.inputs}; outputs {ref.outputs}"


def compare_outputs(got: dict[str, Any], want: dict[str, np.ndarray], tolerance: float | None = None) -> str:
    parts = []
    for name, expected in want.items():
        actual = got.get(name)
        expect(actual is not None, f"output {name} missing")
        expect(actual.dtype == expected.dtype, f"{name} dtype {actual.dtype} != {expected.dtype}")
        expect(list(actual.shape) == list(expected.shape), f"{name} shape {list(actual.shape)} != {list(expected.shape)}")
        if tolerance is None or not np.issubdtype(expected.dtype, np.floating):
            expect(np.array_equal(actual, expected), f"{name} differs: {actual.tolist()} != {expected.tolist()}")
        else:
            diff = float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64)))) if expected.size else 0.0
            expect(diff <= tolerance, f"{name} max abs difference {diff} > {tolerance}")
        parts.append(f"{name} {expected.dtype} {list(expected.shape)}")
    return "matches onnxruntime: " + ", ".join(parts)


def simple_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1234)
    return {
        "INPUT0": rng.integers(-1000, 1000, size=(2, 16), dtype=np.int32),
        "INPUT1": rng.integers(-1000, 1000, size=(2, 16), dtype=np.int32),
    }


# -------------------------------------------------------------------------------------- HTTP


def http_checks(args, refs: dict[str, Reference]) -> None:
    import tritonclient.http as httpclient

    t = args.timeout
    client = httpclient.InferenceServerClient(args.http, connection_timeout=t, network_timeout=t)

    check("http.server_live", lambda: expect(client.is_server_live() is True, "is_server_live() is not True"))
    check("http.server_ready", lambda: expect(client.is_server_ready() is True, "is_server_ready() is not True"))

    def server_metadata():
        meta = client.get_server_metadata()
        expect(isinstance(meta.get("name"), str) and meta["name"] != "", f"no name in {meta}")
        expect(isinstance(meta.get("version"), str) and meta["version"] != "", f"no version in {meta}")
        expect(isinstance(meta.get("extensions"), list), f"extensions is not an array in {meta}")
        return json.dumps(meta)

    check("http.server_metadata", server_metadata)

    for name, ref in refs.items():
        check(f"http.model_metadata.{name}", lambda ref=ref: compare_metadata(client.get_model_metadata(ref.name), ref))
        check(
            f"http.model_ready.{name}",
            lambda name=name: expect(client.is_model_ready(name) is True, f"is_model_ready({name}) is not True"),
        )

    def infer_simple(binary: bool) -> str:
        feeds = simple_inputs()
        inputs = []
        for n, arr in feeds.items():
            i = httpclient.InferInput(n, list(arr.shape), "INT32")
            i.set_data_from_numpy(arr, binary_data=binary)
            inputs.append(i)
        outputs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in ("OUTPUT0", "OUTPUT1")]
        result = client.infer("simple", inputs, outputs=outputs, request_id="conformance-simple")
        response = result.get_response()
        for n in ("OUTPUT0", "OUTPUT1"):
            out = result.get_output(n)
            expect(out is not None, f"{n} missing from the response {response}")
            params = out.get("parameters") or {}
            if binary:
                expect("binary_data_size" in params, f"{n} was not returned as binary data: {out}")
            else:
                expect("data" in out and "binary_data_size" not in params, f"{n} was not returned as JSON data: {out}")
        got = {n: result.as_numpy(n) for n in ("OUTPUT0", "OUTPUT1")}
        return compare_outputs(got, refs["simple"].run(feeds))

    check("http.infer.simple.binary", lambda: infer_simple(True))
    check("http.infer.simple.json", lambda: infer_simple(False))

    def infer_iris(binary: bool) -> str:
        i = httpclient.InferInput("input", list(IRIS_ROWS.shape), "FP32")
        i.set_data_from_numpy(IRIS_ROWS, binary_data=binary)
        outputs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in ("label", "probabilities")]
        result = client.infer("iris", [i], outputs=outputs)
        got = {n: result.as_numpy(n) for n in ("label", "probabilities")}
        return compare_outputs(got, refs["iris"].run({"input": IRIS_ROWS}), IRIS_TOLERANCE)

    check("http.infer.iris.binary", lambda: infer_iris(True))
    check("http.infer.iris.json", lambda: infer_iris(False))

    def index_ready():
        index = client.get_model_repository_index()
        expect(isinstance(index, list), f"index is not a list: {index}")
        states = {m.get("name"): m.get("state") for m in index}
        for name in refs:
            expect(states.get(name) == "READY", f"{name} state {states.get(name)!r} (index {index})")
        return json.dumps(index)

    check("http.repository_index", index_ready)

    def unloaded_index():
        index = client.get_model_repository_index()
        entries = [m for m in index if m.get("name") == "simple"]
        expect(len(entries) > 0, f"simple missing from the index after unload: {index}")
        expect(
            all(m.get("state") == "UNAVAILABLE" for m in entries),
            f"simple state after unload is not UNAVAILABLE: {entries}",
        )
        return json.dumps(entries)

    def infer_again():
        feeds = simple_inputs()
        inputs = []
        for n, arr in feeds.items():
            i = httpclient.InferInput(n, list(arr.shape), "INT32")
            i.set_data_from_numpy(arr)
            inputs.append(i)
        result = client.infer("simple", inputs)
        return compare_outputs({n: result.as_numpy(n) for n in ("OUTPUT0", "OUTPUT1")}, refs["simple"].run(feeds))

    try:
        check("http.unload.simple", lambda: client.unload_model("simple"))
        # The follow-ups run even when unload failed: they then fail with the state seen.
        check(
            "http.unloaded.model_ready.simple",
            lambda: expect(client.is_model_ready("simple") is False, "is_model_ready(simple) is not False after unload"),
        )
        check("http.unloaded.repository_index.simple", unloaded_index)
        check("http.load.simple", lambda: client.load_model("simple"))
        check(
            "http.reloaded.model_ready.simple",
            lambda: expect(client.is_model_ready("simple") is True, "is_model_ready(simple) is not True after load"),
        )
        check("http.reloaded.infer.simple", infer_again)
    finally:
        restore(lambda: client.load_model("simple"))

    def unknown_model():
        try:
            client.get_model_metadata("tessera-no-such-model")
        except httpclient.InferenceServerException as e:
            expect(e.status() == "404", f"status {e.status()!r}, expected '404' ({e.message()})")
            return f"404: {e.message()}"
        raise AssertionError("get_model_metadata of an unknown model did not raise")

    check("http.unknown_model.metadata", unknown_model)
    client.close()


# -------------------------------------------------------------------------------------- gRPC


def grpc_checks(args, refs: dict[str, Reference]) -> None:
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    t = args.timeout
    client = grpcclient.InferenceServerClient(args.grpc)

    check("grpc.server_live", lambda: expect(client.is_server_live(client_timeout=t) is True, "is_server_live() is not True"))
    check("grpc.server_ready", lambda: expect(client.is_server_ready(client_timeout=t) is True, "is_server_ready() is not True"))

    def server_metadata():
        meta = client.get_server_metadata(client_timeout=t)  # protobuf: an empty repeated field is still a list
        expect(meta.name != "", f"no name in {meta}")
        expect(meta.version != "", f"no version in {meta}")
        extensions = list(meta.extensions)
        return json.dumps({"name": meta.name, "version": meta.version, "extensions": extensions})

    check("grpc.server_metadata", server_metadata)

    for name, ref in refs.items():
        check(
            f"grpc.model_metadata.{name}",
            lambda ref=ref: compare_metadata(client.get_model_metadata(ref.name, as_json=True, client_timeout=t), ref),
        )
        check(
            f"grpc.model_ready.{name}",
            lambda name=name: expect(
                client.is_model_ready(name, client_timeout=t) is True, f"is_model_ready({name}) is not True"
            ),
        )

    def infer_simple() -> str:
        feeds = simple_inputs()
        inputs = []
        for n, arr in feeds.items():
            i = grpcclient.InferInput(n, list(arr.shape), "INT32")
            i.set_data_from_numpy(arr)
            inputs.append(i)
        outputs = [grpcclient.InferRequestedOutput(n) for n in ("OUTPUT0", "OUTPUT1")]
        result = client.infer("simple", inputs, outputs=outputs, request_id="conformance-simple", client_timeout=t)
        got = {n: result.as_numpy(n) for n in ("OUTPUT0", "OUTPUT1")}
        return compare_outputs(got, refs["simple"].run(feeds))

    check("grpc.infer.simple", infer_simple)

    def infer_iris() -> str:
        i = grpcclient.InferInput("input", list(IRIS_ROWS.shape), "FP32")
        i.set_data_from_numpy(IRIS_ROWS)
        outputs = [grpcclient.InferRequestedOutput(n) for n in ("label", "probabilities")]
        result = client.infer("iris", [i], outputs=outputs, client_timeout=t)
        got = {n: result.as_numpy(n) for n in ("label", "probabilities")}
        return compare_outputs(got, refs["iris"].run({"input": IRIS_ROWS}), IRIS_TOLERANCE)

    check("grpc.infer.iris", infer_iris)

    def index(ready_expected: bool):
        response = client.get_model_repository_index(client_timeout=t)
        models = [{"name": m.name, "version": m.version, "state": m.state, "reason": m.reason} for m in response.models]
        states = {m["name"]: m["state"] for m in models}
        if ready_expected:
            for name in refs:
                expect(states.get(name) == "READY", f"{name} state {states.get(name)!r} (index {models})")
            return json.dumps(models)
        entries = [m for m in models if m["name"] == "simple"]
        expect(len(entries) > 0, f"simple missing from the index after unload: {models}")
        expect(
            all(m["state"] == "UNAVAILABLE" for m in entries),
            f"simple state after unload is not UNAVAILABLE: {entries}",
        )
        return json.dumps(entries)

    check("grpc.repository_index", lambda: index(True))

    try:
        check("grpc.unload.simple", lambda: client.unload_model("simple", client_timeout=t))
        # The follow-ups run even when unload failed: they then fail with the state seen.
        check(
            "grpc.unloaded.model_ready.simple",
            lambda: expect(
                client.is_model_ready("simple", client_timeout=t) is False,
                "is_model_ready(simple) is not False after unload",
            ),
        )
        check("grpc.unloaded.repository_index.simple", lambda: index(False))
        check("grpc.load.simple", lambda: client.load_model("simple", client_timeout=t))
        check(
            "grpc.reloaded.model_ready.simple",
            lambda: expect(
                client.is_model_ready("simple", client_timeout=t) is True, "is_model_ready(simple) is not True after load"
            ),
        )
        check("grpc.reloaded.infer.simple", infer_simple)
    finally:
        restore(lambda: client.load_model("simple", client_timeout=t))

    def unknown_model():
        try:
            client.get_model_metadata("tessera-no-such-model", client_timeout=t)
        except InferenceServerException as e:
            expect("NOT_FOUND" in str(e.status()), f"status {e.status()!r}, expected NOT_FOUND ({e.message()})")
            return f"{e.status()}: {e.message()}"
        raise AssertionError("get_model_metadata of an unknown model did not raise")

    check("grpc.unknown_model.metadata", unknown_model)
    client.close()


def restore(load: Callable[[], Any]) -> None:
    try:
        load()
    except Exception as e:  # noqa: BLE001 - best effort, already reported by the checks
        log(f"could not load simple again: {e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--http", required=True, help="host:port of the REST endpoint")
    parser.add_argument("--grpc", required=True, help="host:port of the gRPC endpoint")
    parser.add_argument("--models-dir", required=True, help="folder holding simple/ and iris/")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per client call (default 10)")
    parser.add_argument("--only", choices=["http", "grpc"], help="run only one protocol's checks")
    args = parser.parse_args()

    refs: dict[str, Reference] = {}
    for name in ("simple", "iris"):
        check(f"reference.{name}", lambda name=name: refs.__setitem__(name, Reference(args.models_dir, name)))

    if len(refs) == 2:
        if args.only in (None, "http"):
            check("http.suite", lambda: http_checks(args, refs))
        if args.only in (None, "grpc"):
            check("grpc.suite", lambda: grpc_checks(args, refs))

    sys.stdout.write(json.dumps({"checks": CHECKS}) + "\n")
    sys.stdout.flush()
    failed = [c["name"] for c in CHECKS if not c["ok"]]
    log(f"{len(CHECKS) - len(failed)}/{len(CHECKS)} checks passed" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

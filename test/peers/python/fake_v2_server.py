#!/usr/bin/env python3
"""A minimal V2 / Open Inference Protocol server backed by Python onnxruntime, used ONLY to
self-test the conformance peers (triton_conformance.py, onnx_reference.py) independently of
Tessera's own server. It is a fake: just enough of REST (JSON + binary tensor extension), gRPC
(Triton's GRPCInferenceService from tritonclient's generated stubs) and the model repository
extension for triton_conformance.py to pass against it.

    $TESSERA_PYTHON test/peers/python/fake_v2_server.py --models-dir examples/models \
        [--http-port 0] [--grpc-port 0]

Loads every sub-folder of --models-dir holding a model-settings.json (uri relative to it), binds
127.0.0.1 only, and prints one line `READY http=<port> grpc=<port>` on stdout once serving.
Stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import onnxruntime as ort
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor, triton_to_np_dtype

ORT_TO_V2 = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}


class NotFound(Exception):
    pass


class BadRequest(Exception):
    pass


class Model:
    def __init__(self, folder: str):
        with open(os.path.join(folder, "model-settings.json"), encoding="utf-8") as f:
            settings = json.load(f)
        self.name = settings["name"]
        self.path = os.path.normpath(os.path.join(folder, settings.get("parameters", {}).get("uri", "./model.onnx")))
        self.session: ort.InferenceSession | None = None
        self.reason = ""

    def load(self) -> None:
        try:
            self.session = ort.InferenceSession(self.path, providers=["CPUExecutionProvider"])
            self.reason = ""
        except Exception as e:  # noqa: BLE001
            self.session = None
            self.reason = str(e)

    @staticmethod
    def tensors(args) -> list[dict]:
        return [
            {
                "name": a.name,
                "datatype": ORT_TO_V2.get(a.type, a.type),
                "shape": [d if isinstance(d, int) and d >= 0 else -1 for d in a.shape],
            }
            for a in args
        ]

    def metadata(self) -> dict:
        s = self.ready_session()
        return {
            "name": self.name,
            "versions": [],
            "platform": "onnx_onnxv1",
            "inputs": self.tensors(s.get_inputs()),
            "outputs": self.tensors(s.get_outputs()),
        }

    def ready_session(self) -> ort.InferenceSession:
        if self.session is None:
            raise BadRequest(f"model {self.name} is not ready")
        return self.session

    def infer(self, feeds: dict[str, np.ndarray], names: list[str] | None) -> list[tuple[str, np.ndarray]]:
        s = self.ready_session()
        names = names or [o.name for o in s.get_outputs()]
        try:
            return list(zip(names, s.run(names, feeds)))
        except Exception as e:  # noqa: BLE001
            raise BadRequest(str(e)) from e


class Repository:
    def __init__(self, models_dir: str):
        self.models: dict[str, Model] = {}
        for entry in sorted(os.listdir(models_dir)):
            folder = os.path.join(models_dir, entry)
            if os.path.isfile(os.path.join(folder, "model-settings.json")):
                m = Model(folder)
                m.load()
                self.models[m.name] = m
        self.lock = threading.Lock()

    def get(self, name: str) -> Model:
        m = self.models.get(name)
        if m is None:
            raise NotFound(f"model {name} not found")
        return m

    def index(self) -> list[dict]:
        return [
            {"name": m.name, "version": "", "state": "READY" if m.session else "UNAVAILABLE", "reason": m.reason}
            for m in self.models.values()
        ]


def numpy_type(datatype: str):
    dtype = triton_to_np_dtype(datatype)
    if dtype is None:
        raise BadRequest(f"unsupported datatype {datatype}")
    return dtype


def tensor_from_json(inp: dict, raw: bytes | None) -> np.ndarray:
    datatype, shape = inp["datatype"], inp["shape"]
    if raw is not None:
        if datatype == "BYTES":
            arr = deserialize_bytes_tensor(raw)
        else:
            arr = np.frombuffer(raw, dtype=numpy_type(datatype))
    elif datatype == "BYTES":
        arr = np.array([x.encode() if isinstance(x, str) else x for x in np.array(inp["data"], dtype=object).reshape(-1)], dtype=object)
    else:
        arr = np.array(inp["data"], dtype=numpy_type(datatype))
    return arr.reshape(shape)


def v2_datatype(arr: np.ndarray) -> str:
    if arr.dtype == np.object_:
        return "BYTES"
    return {np.dtype(triton_to_np_dtype(k)): k for k in ("BOOL", "UINT8", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64")}[arr.dtype]


def raw_bytes(arr: np.ndarray) -> bytes:
    if arr.dtype == np.object_:
        return serialize_byte_tensor(arr).tobytes()
    return np.ascontiguousarray(arr).tobytes()


class Http(BaseHTTPRequestHandler):
    repo: Repository
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def send(self, status: int, body: dict | None = None, binary: bytes = b"", header_length: int | None = None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if header_length is not None:
            self.send_header("Inference-Header-Content-Length", str(len(data)))
            self.send_header("Content-Type", "application/octet-stream")
        elif body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data) + len(binary)))
        self.end_headers()
        self.wfile.write(data + binary)

    def handle_errors(self, fn):
        try:
            fn()
        except NotFound as e:
            self.send(404, {"error": str(e)})
        except BadRequest as e:
            self.send(400, {"error": str(e)})
        except Exception as e:  # noqa: BLE001
            self.send(500, {"error": f"{type(e).__name__}: {e}"})

    def do_GET(self):  # noqa: N802
        self.handle_errors(self.get)

    def do_POST(self):  # noqa: N802
        self.handle_errors(self.post)

    def get(self):
        path = self.path.split("?")[0]
        if path in ("/v2/health/live", "/v2/health/ready"):
            return self.send(200, {path.rsplit("/", 1)[1]: True})
        if path == "/v2":
            return self.send(200, {"name": "fake-v2", "version": "0.0.0", "extensions": ["binary_tensor_data", "model_repository"]})
        m = re.fullmatch(r"/v2/models/([^/]+)(?:/versions/[^/]+)?(/ready)?", path)
        if m is None:
            raise NotFound("Not Found")
        model = self.repo.get(m.group(1))
        if m.group(2):
            if model.session is None:
                return self.send(400, {"error": "Model version not ready"})
            return self.send(200, {"name": model.name, "ready": True})
        return self.send(200, model.metadata())

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def post(self):
        path = self.path.split("?")[0]
        body = self.body()
        if path == "/v2/repository/index":
            return self.send(200, self.repo.index())
        m = re.fullmatch(r"/v2/repository/models/([^/]+)/(load|unload)", path)
        if m:
            model = self.repo.get(m.group(1))
            if m.group(2) == "load":
                model.load()
            else:
                model.session, model.reason = None, "unloaded"
            return self.send(200, {})
        m = re.fullmatch(r"/v2/models/([^/]+)(?:/versions/[^/]+)?/infer", path)
        if m is None:
            raise NotFound("Not Found")
        return self.infer(self.repo.get(m.group(1)), body)

    def infer(self, model: Model, body: bytes):
        header_len = self.headers.get("Inference-Header-Content-Length")
        json_len = int(header_len) if header_len is not None else len(body)
        request = json.loads(body[:json_len])
        offset = json_len
        feeds = {}
        for inp in request["inputs"]:
            size = (inp.get("parameters") or {}).get("binary_data_size")
            raw = None
            if size is not None:
                raw = body[offset : offset + size]
                offset += size
            feeds[inp["name"]] = tensor_from_json(inp, raw)
        requested = request.get("outputs") or []
        default_binary = bool((request.get("parameters") or {}).get("binary_data_output", False))
        wants_binary = {o["name"]: bool((o.get("parameters") or {}).get("binary_data", default_binary)) for o in requested}
        results = model.infer(feeds, [o["name"] for o in requested] or None)
        outputs, blobs = [], []
        for name, arr in results:
            out = {"name": name, "datatype": v2_datatype(arr), "shape": list(arr.shape)}
            if wants_binary.get(name, default_binary):
                blob = raw_bytes(arr)
                out["parameters"] = {"binary_data_size": len(blob)}
                blobs.append(blob)
            elif arr.dtype == np.object_:
                out["data"] = [x.decode() if isinstance(x, bytes) else x for x in arr.reshape(-1)]
            else:
                out["data"] = arr.reshape(-1).tolist()
            outputs.append(out)
        response = {"model_name": model.name, "outputs": outputs}
        if request.get("id"):
            response["id"] = request["id"]
        if blobs:
            return self.send(200, response, b"".join(blobs), header_length=1)
        return self.send(200, response)


class Grpc(service_pb2_grpc.GRPCInferenceServiceServicer):
    def __init__(self, repo: Repository):
        self.repo = repo

    def model(self, name, context) -> Model:
        try:
            return self.repo.get(name)
        except NotFound as e:
            context.abort(grpc.StatusCode.NOT_FOUND, str(e))
            raise

    def ServerLive(self, request, context):  # noqa: N802
        return service_pb2.ServerLiveResponse(live=True)

    def ServerReady(self, request, context):  # noqa: N802
        return service_pb2.ServerReadyResponse(ready=True)

    def ServerMetadata(self, request, context):  # noqa: N802
        return service_pb2.ServerMetadataResponse(name="fake-v2", version="0.0.0", extensions=["model_repository"])

    def ModelReady(self, request, context):  # noqa: N802
        return service_pb2.ModelReadyResponse(ready=self.model(request.name, context).session is not None)

    def ModelMetadata(self, request, context):  # noqa: N802
        model = self.model(request.name, context)
        try:
            meta = model.metadata()
        except BadRequest as e:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(e))
        t = service_pb2.ModelMetadataResponse.TensorMetadata
        return service_pb2.ModelMetadataResponse(
            name=meta["name"],
            platform=meta["platform"],
            inputs=[t(name=x["name"], datatype=x["datatype"], shape=x["shape"]) for x in meta["inputs"]],
            outputs=[t(name=x["name"], datatype=x["datatype"], shape=x["shape"]) for x in meta["outputs"]],
        )

    def ModelInfer(self, request, context):  # noqa: N802
        model = self.model(request.model_name, context)
        feeds = {}
        for i, inp in enumerate(request.inputs):
            raw = request.raw_input_contents[i]
            feeds[inp.name] = tensor_from_json({"datatype": inp.datatype, "shape": list(inp.shape)}, raw)
        try:
            results = model.infer(feeds, [o.name for o in request.outputs] or None)
        except BadRequest as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        response = service_pb2.ModelInferResponse(model_name=model.name, id=request.id)
        for name, arr in results:
            response.outputs.add(name=name, datatype=v2_datatype(arr), shape=list(arr.shape))
            response.raw_output_contents.append(raw_bytes(arr))
        return response

    def RepositoryIndex(self, request, context):  # noqa: N802
        r = service_pb2.RepositoryIndexResponse
        return r(models=[r.ModelIndex(**m) for m in self.repo.index()])

    def RepositoryModelLoad(self, request, context):  # noqa: N802
        self.model(request.model_name, context).load()
        return service_pb2.RepositoryModelLoadResponse()

    def RepositoryModelUnload(self, request, context):  # noqa: N802
        model = self.model(request.model_name, context)
        model.session, model.reason = None, "unloaded"
        return service_pb2.RepositoryModelUnloadResponse()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", required=True)
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--grpc-port", type=int, default=0)
    args = parser.parse_args()

    repo = Repository(args.models_dir)
    Http.repo = repo
    http_server = ThreadingHTTPServer(("127.0.0.1", args.http_port), Http)
    http_server.daemon_threads = True
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(Grpc(repo), grpc_server)
    grpc_port = grpc_server.add_insecure_port(f"127.0.0.1:{args.grpc_port}")
    grpc_server.start()
    threading.Thread(target=http_server.serve_forever, daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"READY http={http_server.server_address[1]} grpc={grpc_port}", flush=True)
    stop.wait()
    grpc_server.stop(1)
    http_server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

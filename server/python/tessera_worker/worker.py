"""Loads MLServer models and answers the server's frames with MLServer's own classes.

Each model is built as MLServer builds it: `ModelSettings.model_validate` with `_source` set to
its model-settings.json (so `implementation` imports relative to the model folder and
`parameters.uri` resolves as in MLServer), then the class's `load`, `predict` and `unload` are
awaited with MLServer's `InferenceRequest` / `InferenceResponse`. Tensors cross the wire as raw
little-endian bytes (BYTES as 4-byte length-prefixed elements), never pickled.
"""
import asyncio
import os
import socket
import struct
import sys
import time
import traceback

from . import handlers, metrics, wire

try:
    import numpy as np
    import mlserver
    import mlserver.errors
    from mlserver import MLModel
    from mlserver.settings import ModelSettings
    from mlserver.types import InferenceRequest, RequestInput, RequestOutput
except ImportError as error:  # reported to the server as the reason every load fails
    IMPORT_ERROR = f"{type(error).__name__}: {error}"
else:
    IMPORT_ERROR = None

NUMPY = {
    "BOOL": "bool",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}


class UserError(Exception):
    """A failure whose message is for the client (no traceback).

    `status` is the HTTP status MLServer would answer with: an `MLServerError` carries its own
    (`status_code`, 400 for `InferenceError` and MLServer's other request errors), anything
    else is a 500, as in MLServer's exception handlers (mlserver/rest/app.py).
    """

    def __init__(self, message, status=500):
        super().__init__(message)
        self.status = status


def status_of(error):
    """MLServer's status for an exception a runtime raised: its status_code if an MLServerError."""
    if IMPORT_ERROR is None and isinstance(error, mlserver.errors.MLServerError):
        code = getattr(error, "status_code", 500)
        if isinstance(code, int) and 400 <= code <= 599:
            return code
    return 500


def split_strings(raw: bytes, count: int) -> list:
    out, offset = [], 0
    for _ in range(count):
        (size,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        out.append(raw[offset : offset + size])
        offset += size
    return out


def join_strings(elements) -> bytes:
    parts = []
    for element in elements:
        if isinstance(element, str):
            element = element.encode("utf-8")
        elif not isinstance(element, (bytes, bytearray)):
            element = str(element).encode("utf-8")
        parts.append(struct.pack("<I", len(element)))
        parts.append(bytes(element))
    return b"".join(parts)


def decode_inputs(head, body: bytes):
    inputs = []
    for t in head["inputs"]:
        raw = body[t["offset"] : t["offset"] + t["length"]]
        count = 1
        for d in t["shape"]:
            count *= d
        if t["datatype"] == "BYTES":
            data = split_strings(raw, count)
        else:
            # A list, as MLServer's REST and gRPC front ends hand `data` to the runtime.
            data = np.frombuffer(raw, dtype=NUMPY[t["datatype"]]).tolist()
        kwargs = {"name": t["name"], "datatype": t["datatype"], "shape": t["shape"], "data": data}
        if t.get("parameters"):
            kwargs["parameters"] = t["parameters"]
        inputs.append(RequestInput(**kwargs))
    return inputs


def encode_outputs(response):
    heads, parts, offset = [], [], 0
    for output in response.outputs:
        data = output.data.root if hasattr(output.data, "root") else output.data
        if output.datatype == "BYTES":
            flat = np.asarray(data, dtype=object).reshape(-1).tolist()
            raw = join_strings(flat)
        else:
            raw = np.asarray(data, dtype=NUMPY[output.datatype]).reshape(-1).tobytes()
        head = {
            "name": output.name,
            "datatype": output.datatype,
            "shape": list(output.shape),
            "offset": offset,
            "length": len(raw),
        }
        if output.parameters is not None:
            head["parameters"] = output.parameters.model_dump(exclude_none=True)
        heads.append(head)
        parts.append(raw)
        offset += len(raw)
    params = response.parameters.model_dump(exclude_none=True) if response.parameters else None
    return {"outputs": heads, "parameters": params}, parts


def parameters_of(item):
    """A metadata item's parameters as JSON (MLflow's signature puts content types there)."""
    params = getattr(item, "parameters", None)
    return params.model_dump(exclude_none=True) if params is not None else None


def tensor_metadata(items):
    out = []
    for m in items or []:
        entry = {"name": m.name, "datatype": m.datatype, "shape": list(m.shape)}
        params = parameters_of(m)
        if params:
            entry["parameters"] = params
        out.append(entry)
    return out


class Worker:
    def __init__(self, writer: asyncio.StreamWriter):
        self.writer = writer
        self.models = {}
        # The FastAPI app of each model with custom REST handlers (handlers.py).
        self.apps = {}

    def send(self, kind, msg_id, head, parts=()):
        self.writer.write(wire.encode_frame(kind, msg_id, head, parts))

    async def load(self, head):
        if IMPORT_ERROR is not None:
            raise UserError(
                f"this Python cannot import mlserver ({IMPORT_ERROR}); install mlserver in it "
                "or point python_executable, parameters.environment_path or "
                "parameters.environment_tarball at one that has it"
            )
        raw = dict(head["settings"])
        raw["_source"] = head["source"]
        try:
            settings = ModelSettings.model_validate(raw)
        except Exception as error:
            raise UserError(f"model-settings.json is not valid for mlserver: {error}") from error
        try:
            model_class = settings.implementation
        except Exception as error:
            raise UserError(
                f"implementation '{settings.implementation_}' cannot be imported "
                f"({type(error).__name__}: {error}); check the class path and that its package "
                "is installed in the worker's Python"
            ) from error
        model = model_class(settings)
        try:
            with metrics.scope(settings, head["key"]):
                await model.load()
        except Exception as error:
            raise UserError(
                f"{settings.implementation_}.load() failed: {type(error).__name__}: {error}"
            ) from error
        try:
            app, routes = handlers.mount(model)
        except Exception as error:
            with metrics.scope(settings, head["key"]):
                await model.unload()
            raise UserError(
                f"{settings.implementation_}'s custom REST handlers cannot be mounted: "
                f"{type(error).__name__}: {error}"
            ) from error
        self.models[head["key"]] = model
        if app is not None:
            self.apps[head["key"]] = app
        meta = await model.metadata()
        return {
            # Whether the class has its own predict_stream (MLServer's MLModel has a default that
            # raises), so the server offers streaming only where the model streams.
            "streams": getattr(type(model), "predict_stream", None)
            is not getattr(MLModel, "predict_stream", None),
            "platform": meta.platform or "",
            "inputs": tensor_metadata(meta.inputs),
            "outputs": tensor_metadata(meta.outputs),
            # e.g. the request content type MLflowRuntime sets from the signature ("pd", "np").
            "parameters": parameters_of(meta),
            # MLServer mounts these at the root of its REST server (MLflow's /invocations).
            "handlers": routes,
        }

    async def unload(self, head):
        model = self.models.pop(head["key"], None)
        self.apps.pop(head["key"], None)
        if model is not None:
            with metrics.scope(model.settings, head["key"]):
                await model.unload()
        return {}

    def request(self, head, body):
        model = self.models.get(head["key"])
        if model is None:
            raise UserError("the model is not loaded in the Python worker")
        kwargs = {"id": head.get("id"), "inputs": decode_inputs(head, body)}
        if head.get("parameters"):
            kwargs["parameters"] = head["parameters"]
        if head.get("outputs"):
            kwargs["outputs"] = [RequestOutput(name=n) for n in head["outputs"]]
        return model, InferenceRequest(**kwargs)

    async def stream(self, msg_id, head, body):
        """MLServer's predict_stream over one request: a PART per response, then OK."""
        model, request = self.request(head, body)
        with metrics.scope(model.settings, head["key"]):
            return await self._stream(model, request, msg_id)

    async def _stream(self, model, request, msg_id):
        async def requests():
            yield request

        responses = model.predict_stream(requests())
        try:
            async for response in responses:
                reply, parts = encode_outputs(response)
                self.send(wire.PART, msg_id, reply, parts)
                await self.writer.drain()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise UserError(
                f"predict_stream failed: {type(error).__name__}: {error}", status_of(error)
            ) from error
        finally:
            # Closing the generator runs the model's own cleanup (its finally blocks).
            close = getattr(responses, "aclose", None)
            if close is not None:
                await close()
        return {}

    async def infer(self, head, body):
        model, request = self.request(head, body)
        started = time.perf_counter()
        try:
            with metrics.scope(model.settings, head["key"]):
                response = await model.predict(request)
        except Exception as error:
            raise UserError(
                f"predict failed: {type(error).__name__}: {error}", status_of(error)
            ) from error
        # The server's statistics count this as compute_infer and the rest of the call (the
        # socket, decoding, waiting for this process) as queue, as Triton splits them.
        compute_ms = (time.perf_counter() - started) * 1000
        reply, parts = encode_outputs(response)
        reply["compute_ms"] = compute_ms
        return reply, parts

    async def http(self, head, body):
        app = self.apps.get(head["key"])
        model = self.models.get(head["key"])
        if app is None or model is None:
            raise UserError("the model has no custom REST handlers in the Python worker")
        with metrics.scope(model.settings, head["key"]):
            status, headers, content = await handlers.call(app, head, body)
        return {"status": status, "headers": headers}, [content]

    async def handle(self, kind, msg_id, head, body):
        try:
            if kind == wire.LOAD:
                self.send(wire.OK, msg_id, await self.load(head))
            elif kind == wire.UNLOAD:
                self.send(wire.OK, msg_id, await self.unload(head))
            elif kind == wire.INFER:
                reply, parts = await self.infer(head, body)
                self.send(wire.OK, msg_id, reply, parts)
            elif kind == wire.HTTP:
                reply, parts = await self.http(head, body)
                self.send(wire.OK, msg_id, reply, parts)
            elif kind == wire.STREAM:
                self.send(wire.OK, msg_id, await self.stream(msg_id, head, body))
            else:
                raise UserError(f"unexpected frame kind {kind}")
        except UserError as error:
            # The traceback is for the server log (stderr), the message for the client.
            traceback.print_exc(file=sys.stderr)
            self.send(wire.ERROR, msg_id, {"message": str(error), "status": error.status})
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            self.send(wire.ERROR, msg_id, {"message": f"{type(error).__name__}: {error}"})
        await self.writer.drain()


async def main() -> int:
    fd = int(os.environ.get("TESSERA_WORKER_FD", "3"))
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    worker = Worker(writer)
    if IMPORT_ERROR is None:
        metrics.install(metrics.Shipper(worker.send, asyncio.get_running_loop()))
    worker.send(
        wire.HELLO,
        0,
        {
            "python": sys.version.split()[0],
            "mlserver": None if IMPORT_ERROR else mlserver.__version__,
            "import_error": IMPORT_ERROR,
        },
    )
    await writer.drain()
    tasks = set()
    streams = {}
    while True:
        frame = await wire.read_frame(reader)
        if frame is None:
            return 0
        kind, msg_id = frame[0], frame[1]
        if kind == wire.CANCEL:
            # The client of a stream went away: cancelling its task closes the model's generator.
            stream = streams.pop(msg_id, None)
            if stream is not None:
                stream.cancel()
            continue
        task = asyncio.ensure_future(worker.handle(*frame))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        if kind == wire.STREAM:
            streams[msg_id] = task
            task.add_done_callback(lambda _t, i=msg_id: streams.pop(i, None))

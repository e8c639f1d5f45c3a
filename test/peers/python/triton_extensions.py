#!/usr/bin/env python3
"""Triton's extensions through the OFFICIAL tritonclient, on both protocols.

Run by test/integration/server/triton-extensions.test.ts against a running server that serves the
`simple` and `iris` example models:

    $TESSERA_PYTHON test/peers/python/triton_extensions.py \
        --http localhost:8080 --grpc localhost:8081 --models-dir examples/models

Covers the model configuration extension (get_model_config), the statistics extension
(get_inference_statistics: counts change by exactly the requests sent, failures included), the
repository load parameters (`config` and `file:` over REST and gRPC, valid and invalid), gRPC
outputs as raw_output_contents for every datatype (as_numpy), and Triton's wording for unknown
models. Prints ONE JSON object {"checks": [...]} like triton_conformance.py and exits 0 even when
checks fail (the Node test asserts each); diagnostics go to stderr.

The server's state changes: `iris` is reloaded with a config and then plainly; the models loaded
from files (`identity-http`, `identity-grpc`) are unloaded at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable

import numpy as np

# The same check recorder as the conformance script (one JSON shape for the Node tests).
from triton_conformance import CHECKS, check, expect  # noqa: E402

# Every datatype the identity model carries: V2 name -> (numpy dtype, ONNX element type name).
# BF16 has no onnxruntime-node tensor type.
DTYPES = {
    "BOOL": (np.bool_, "BOOL"),
    "UINT8": (np.uint8, "UINT8"),
    "UINT16": (np.uint16, "UINT16"),
    "UINT32": (np.uint32, "UINT32"),
    "UINT64": (np.uint64, "UINT64"),
    "INT8": (np.int8, "INT8"),
    "INT16": (np.int16, "INT16"),
    "INT32": (np.int32, "INT32"),
    "INT64": (np.int64, "INT64"),
    "FP16": (np.float16, "FLOAT16"),
    "FP32": (np.float32, "FLOAT"),
    "FP64": (np.float64, "DOUBLE"),
    "BYTES": (np.object_, "STRING"),
}

ORT_TO_TRITON = {
    "tensor(bool)": "TYPE_BOOL",
    "tensor(int32)": "TYPE_INT32",
    "tensor(int64)": "TYPE_INT64",
    "tensor(float)": "TYPE_FP32",
}


def log(message: str) -> None:
    print(f"[triton_extensions] {message}", file=sys.stderr, flush=True)


def expect_error(fn: Callable[[], Any], status: str, *mentions: str) -> str:
    """fn must raise InferenceServerException with this status whose message contains every mention."""
    from tritonclient.utils import InferenceServerException

    try:
        fn()
    except InferenceServerException as e:
        message = e.message() or ""
        expect(str(e.status()) == status, f"status {e.status()} (want {status}): {message}")
        for m in mentions:
            expect(m in message, f"message lacks {m!r}: {message}")
        expect("Traceback" not in message and "/tmp/" not in message, f"leaks internals: {message}")
        return message
    raise AssertionError(f"no error raised (want {status})")


# ------------------------------------------------------------------------------------ fixtures


def onnx_io(models_dir: str, name: str) -> tuple[list[Any], list[Any]]:
    import onnxruntime as ort

    session = ort.InferenceSession(
        os.path.join(models_dir, name, "model.onnx"), providers=["CPUExecutionProvider"]
    )
    return session.get_inputs(), session.get_outputs()


def identity_model() -> bytes:
    """An ONNX model with one Identity per datatype: IN_<DT> [-1] -> OUT_<DT> [-1]."""
    import onnx
    from onnx import TensorProto, helper

    inputs, outputs, nodes = [], [], []
    for dt, (_, onnx_type) in DTYPES.items():
        elem = getattr(TensorProto, onnx_type)
        inputs.append(helper.make_tensor_value_info(f"IN_{dt}", elem, ["n"]))
        outputs.append(helper.make_tensor_value_info(f"OUT_{dt}", elem, ["n"]))
        nodes.append(helper.make_node("Identity", [f"IN_{dt}"], [f"OUT_{dt}"]))
    graph = helper.make_graph(nodes, "identity", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def sample(dt: str) -> np.ndarray:
    if dt == "BOOL":
        return np.array([True, False, True], dtype=np.bool_)
    if dt == "BYTES":
        return np.array([b"a", b"", "\u00e9t\u00e9".encode("utf-8")], dtype=np.object_)
    dtype = DTYPES[dt][0]
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else np.finfo(dtype)
    return np.array([info.min, 0, info.max], dtype=dtype)


IDENTITY_CONFIG = json.dumps({"backend": "onnxruntime", "max_batch_size": 0})


# ------------------------------------------------------------------------------------ checks


def config_checks(http: Any, grpc: Any, models_dir: str) -> None:
    ins, outs = onnx_io(models_dir, "simple")

    def expected(tensors: list[Any]) -> list[dict[str, Any]]:
        return [
            {
                "name": t.name,
                "data_type": ORT_TO_TRITON[t.type],
                "dims": [d if isinstance(d, int) else -1 for d in t.shape],
            }
            for t in tensors
        ]

    def http_config() -> str:
        cfg = http.get_model_config("simple")
        expect(cfg["name"] == "simple", f"name {cfg['name']}")
        expect(cfg["platform"] == "onnxruntime_onnx", f"platform {cfg['platform']}")
        expect(cfg["backend"] == "onnxruntime", f"backend {cfg['backend']}")
        expect(cfg["max_batch_size"] == 0, f"max_batch_size {cfg['max_batch_size']}")
        got = [{k: t[k] for k in ("name", "data_type", "dims")} for t in cfg["input"]]
        expect(got == expected(ins), f"input {got} != {expected(ins)}")
        got = [{k: t[k] for k in ("name", "data_type", "dims")} for t in cfg["output"]]
        expect(got == expected(outs), f"output {got} != {expected(outs)}")
        return json.dumps(cfg)

    def grpc_config() -> str:
        cfg = grpc.get_model_config("simple").config
        expect(cfg.name == "simple" and cfg.platform == "onnxruntime_onnx", str(cfg))
        expect(cfg.backend == "onnxruntime" and cfg.max_batch_size == 0, str(cfg))
        from tritonclient.grpc import model_config_pb2 as mc

        got = [
            {"name": t.name, "data_type": mc.DataType.Name(t.data_type), "dims": list(t.dims)}
            for t in cfg.input
        ]
        expect(got == expected(ins), f"input {got} != {expected(ins)}")
        got = [
            {"name": t.name, "data_type": mc.DataType.Name(t.data_type), "dims": list(t.dims)}
            for t in cfg.output
        ]
        expect(got == expected(outs), f"output {got} != {expected(outs)}")
        expect(
            mc.ModelInstanceGroup.Kind.Name(cfg.instance_group[0].kind) == "KIND_CPU",
            "instance kind",
        )
        return str(cfg).replace("\n", " ")

    check("http.config.simple", http_config)
    check("grpc.config.simple", grpc_config)
    check(
        "http.config.versioned",
        lambda: expect(http.get_model_config("iris", "1")["name"] == "iris", "iris v1"),
    )
    check(
        "http.config.unknown_model",
        lambda: expect_error(
            lambda: http.get_model_config("no-such-model"),
            "404",
            "Request for unknown model: 'no-such-model' is not found",
        ),
    )
    check(
        "grpc.config.unknown_model",
        lambda: expect_error(
            lambda: grpc.get_model_config("no-such-model"),
            "StatusCode.NOT_FOUND",
            "Request for unknown model: 'no-such-model' is not found",
        ),
    )
    check(
        "http.config.unknown_version",
        lambda: expect_error(
            lambda: http.get_model_config("iris", "7"),
            "404",
            "Request for unknown model: 'iris' version 7 is not found",
        ),
    )


def statistics_checks(http: Any, grpc: Any, httpclient: Any, grpcclient: Any) -> None:
    x = np.arange(16, dtype=np.int32).reshape(1, 16)

    def infer(client: Any, module: Any, bad: bool = False) -> None:
        # A wrong shape ([1, 15] for INPUT0 [-1, 16]) fails validation after the model is chosen.
        shape = [1, 15] if bad else [1, 16]
        inputs = []
        for name in ("INPUT0", "INPUT1"):
            t = module.InferInput(name, shape, "INT32")
            t.set_data_from_numpy(x[:, :15] if bad else x)
            inputs.append(t)
        client.infer("simple", inputs)

    def http_infer(bad: bool = False) -> None:
        infer(http, httpclient, bad)

    def grpc_infer(bad: bool = False) -> None:
        infer(grpc, grpcclient, bad)

    def http_stats() -> dict[str, Any]:
        stats = http.get_inference_statistics("simple")["model_stats"]
        expect(len(stats) == 1, f"{len(stats)} entries for simple")
        s = stats[0]
        flat = {k: s["inference_stats"][k]["count"] for k in s["inference_stats"]}
        return {
            "inference_count": s["inference_count"],
            "execution_count": s["execution_count"],
            "last_inference": s["last_inference"],
            "batch": sum(b["compute_infer"]["count"] for b in s["batch_stats"]),
            **flat,
        }

    def grpc_stats() -> dict[str, Any]:
        stats = grpc.get_inference_statistics("simple").model_stats
        expect(len(stats) == 1, f"{len(stats)} entries for simple")
        s = stats[0]
        i = s.inference_stats
        return {
            "inference_count": s.inference_count,
            "execution_count": s.execution_count,
            "last_inference": s.last_inference,
            "batch": sum(b.compute_infer.count for b in s.batch_stats),
            **{
                k: getattr(i, k).count
                for k in (
                    "success",
                    "fail",
                    "queue",
                    "compute_input",
                    "compute_infer",
                    "compute_output",
                    "cache_hit",
                    "cache_miss",
                )
            },
        }

    def counts_change_by_requests() -> str:
        before_http, before_grpc = http_stats(), grpc_stats()
        expect(before_http == before_grpc, f"protocols disagree: {before_http} vs {before_grpc}")
        for _ in range(3):
            http_infer()
        for _ in range(2):
            grpc_infer()
        for call in (lambda: http_infer(bad=True), lambda: grpc_infer(bad=True)):
            try:
                call()
                raise AssertionError("a request with a wrong shape succeeded")
            except AssertionError:
                raise
            except Exception:  # noqa: BLE001 - the failure is what is counted
                pass
        after_http, after_grpc = http_stats(), grpc_stats()
        expect(after_http == after_grpc, f"protocols disagree: {after_http} vs {after_grpc}")
        delta = {k: after_http[k] - before_http[k] for k in after_http if k != "last_inference"}
        want = {
            "inference_count": 5,
            "execution_count": 5,
            "batch": 5,
            "success": 5,
            "fail": 2,
            "queue": 5,
            "compute_input": 5,
            "compute_infer": 5,
            "compute_output": 5,
            "cache_hit": 0,
            "cache_miss": 0,
        }
        expect(delta == want, f"delta {delta} != {want}")
        expect(after_http["last_inference"] >= before_http["last_inference"], "last_inference")
        expect(after_http["last_inference"] > 1_600_000_000_000, "last_inference is epoch ms")
        return json.dumps(delta)

    def durations_grow() -> str:
        s = http.get_inference_statistics("simple")["model_stats"][0]["inference_stats"]
        for key in ("success", "compute_input", "compute_infer", "compute_output"):
            expect(s[key]["ns"] > 0, f"{key}.ns is {s[key]['ns']}")
        expect(s["success"]["ns"] >= s["compute_infer"]["ns"], "success covers compute_infer")
        return json.dumps(s)

    def all_models() -> str:
        names_http = {s["name"] for s in http.get_inference_statistics()["model_stats"]}
        names_grpc = {s.name for s in grpc.get_inference_statistics().model_stats}
        expect({"simple", "iris"} <= names_http, f"http {names_http}")
        expect(names_http == names_grpc, f"{names_http} vs {names_grpc}")
        return ",".join(sorted(names_http))

    def one_version() -> str:
        stats = grpc.get_inference_statistics("iris", "1").model_stats
        expect(len(stats) == 1 and stats[0].version == "1", str(stats))
        return "iris v1"

    check("stats.counts_change_by_requests", counts_change_by_requests)
    check("stats.durations", durations_grow)
    check("stats.all_models", all_models)
    check("grpc.stats.version", one_version)
    check(
        "http.stats.unknown_model",
        lambda: expect_error(
            lambda: http.get_inference_statistics("no-such-model"),
            "404",
            "Request for unknown model: 'no-such-model' is not found",
        ),
    )
    check(
        "grpc.stats.unknown_model",
        lambda: expect_error(
            lambda: grpc.get_inference_statistics("no-such-model"),
            "StatusCode.NOT_FOUND",
            "Request for unknown model",
        ),
    )


def load_checks(http: Any, grpc: Any, http_url: str, grpc_url: str) -> None:
    import requests

    def config_override() -> str:
        http.load_model("iris", config=json.dumps({"max_batch_size": 4}))
        cfg = http.get_model_config("iris")
        expect(cfg["max_batch_size"] == 4, f"max_batch_size {cfg['max_batch_size']}")
        # The batch dimension leaves dims once the model batches (model_config.proto).
        expect(cfg["input"][0]["dims"] == [4], f"dims {cfg['input'][0]['dims']}")
        grpc_cfg = grpc.get_model_config("iris").config
        expect(grpc_cfg.max_batch_size == 4, "gRPC sees the override")
        http.load_model("iris")
        expect(http.get_model_config("iris")["max_batch_size"] == 0, "plain load restores settings")
        return json.dumps(cfg)

    def grpc_round_trip() -> str:
        # What a Triton user does: read the config as JSON (64-bit fields become strings), edit, load.
        cfg = grpc.get_model_config("iris", as_json=True)["config"]
        cfg["instance_group"][0]["count"] = 2
        grpc.load_model("iris", config=json.dumps(cfg))
        count = grpc.get_model_config("iris").config.instance_group[0].count
        expect(count == 2, f"instance count {count}")
        grpc.load_model("iris")
        return json.dumps(cfg)

    check("http.load.config", config_override)
    check("grpc.load.config_round_trip", grpc_round_trip)

    bad_configs = [
        ("unknown_field", {"sequence_batching": {}}, "sequence_batching"),
        ("nested_unknown_field", {"input": [{"name": "input", "data_type": "TYPE_FP32", "dims": [4], "reshape": {}}]}, "input.0.reshape"),
        ("bad_type", {"max_batch_size": "four"}, "max_batch_size"),
        ("bad_data_type", {"input": [{"name": "input", "data_type": "TYPE_FLOAT", "dims": [4]}]}, "input.0.data_type"),
        ("name_mismatch", {"name": "other"}, "name"),
        ("unknown_backend", {"backend": "tensorrt"}, "backend: 'tensorrt'"),
    ]
    for label, cfg, mention in bad_configs:
        check(
            f"http.load.invalid_config.{label}",
            lambda cfg=cfg, mention=mention: expect_error(
                lambda: http.load_model("iris", config=json.dumps(cfg)), "400", "parameters.config", mention
            ),
        )
        check(
            f"grpc.load.invalid_config.{label}",
            lambda cfg=cfg, mention=mention: expect_error(
                lambda: grpc.load_model("iris", config=json.dumps(cfg)),
                "StatusCode.INVALID_ARGUMENT",
                "parameters.config",
                mention,
            ),
        )
    check(
        "http.load.config_not_json",
        lambda: expect_error(lambda: http.load_model("iris", config="{"), "400", "not valid JSON"),
    )
    check(
        "http.load.still_serving_after_refusals",
        lambda: expect(http.is_model_ready("iris"), "iris kept serving"),
    )

    onnx_bytes = identity_model()

    def files(prefix: str) -> dict[str, bytes]:
        return {f"{prefix}1/model.onnx": onnx_bytes}

    check(
        "http.load.files",
        lambda: http.load_model("identity-http", config=IDENTITY_CONFIG, files=files("file:")),
    )
    check(
        "grpc.load.files",
        lambda: grpc.load_model("identity-grpc", config=IDENTITY_CONFIG, files=files("file:")),
    )

    def loaded_from_files() -> str:
        cfg = http.get_model_config("identity-grpc")
        expect(len(cfg["input"]) == len(DTYPES), f"{len(cfg['input'])} inputs")
        types = {t["name"]: t["data_type"] for t in cfg["input"]}
        expect(types["IN_BYTES"] == "TYPE_STRING" and types["IN_UINT64"] == "TYPE_UINT64", str(types))
        index = {(e["name"], e.get("version", "")) for e in http.get_model_repository_index()}
        expect(("identity-http", "1") in index, f"index {index}")
        return json.dumps(types)

    check("load.files.serving", loaded_from_files)

    bad_files = [
        ("traversal", {"file:1/../escape.onnx": onnx_bytes}, IDENTITY_CONFIG, "'..'"),
        ("absolute", {"file:1//model.onnx": onnx_bytes}, IDENTITY_CONFIG, "file:1//model.onnx"),
        ("hidden", {"file:1/.model.onnx": onnx_bytes}, IDENTITY_CONFIG, "'.model.onnx'"),
        ("no_version", {"file:model.onnx": onnx_bytes}, IDENTITY_CONFIG, "file:<version>/"),
        ("bad_version", {"file:v1/model.onnx": onnx_bytes}, IDENTITY_CONFIG, "positive integer"),
        ("no_config", {"file:1/model.onnx": onnx_bytes}, None, "need a parameters.config"),
        ("no_runtime", {"file:1/model.onnx": onnx_bytes}, json.dumps({"max_batch_size": 0}), "platform or backend"),
    ]
    for label, fs, cfg, mention in bad_files:
        check(
            f"http.load.invalid_files.{label}",
            lambda fs=fs, cfg=cfg, mention=mention: expect_error(
                lambda: http.load_model("identity-bad", config=cfg, files=fs), "400", mention
            ),
        )
        check(
            f"grpc.load.invalid_files.{label}",
            lambda fs=fs, cfg=cfg, mention=mention: expect_error(
                lambda: grpc.load_model("identity-bad", config=cfg, files=fs),
                "StatusCode.INVALID_ARGUMENT",
                mention,
            ),
        )

    check(
        "http.load.files.model_name_traversal",
        lambda: expect_error(
            # tritonclient leaves '/' unquoted (the router would answer 404); '..evil' reaches the
            # handler, which must refuse the name before it names a temporary folder after it.
            lambda: http.load_model("..evil", config=IDENTITY_CONFIG, files=files("file:")),
            "400",
            "invalid model name",
        ),
    )
    check(
        "grpc.load.files.model_name_traversal",
        lambda: expect_error(
            lambda: grpc.load_model("../evil", config=IDENTITY_CONFIG, files=files("file:")),
            "StatusCode.INVALID_ARGUMENT",
            "invalid model name",
        ),
    )

    def rest_load(body: dict[str, Any]) -> tuple[int, str]:
        r = requests.post(f"http://{http_url}/v2/repository/models/identity-bad/load", json=body, timeout=30)
        return r.status_code, r.json().get("error", "")

    def rest_not_base64() -> str:
        code, error = rest_load({"parameters": {"config": IDENTITY_CONFIG, "file:1/model.onnx": "not base64!"}})
        expect(code == 400 and "not base64" in error, f"{code} {error}")
        return error

    def rest_unknown_parameter() -> str:
        code, error = rest_load({"parameters": {"confg": IDENTITY_CONFIG}})
        expect(code == 400 and "unknown parameter 'confg'" in error, f"{code} {error}")
        return error

    def rest_config_not_string() -> str:
        code, error = rest_load({"parameters": {"config": True}})
        expect(code == 400 and "parameters.config must be a string" in error, f"{code} {error}")
        return error

    def grpc_unknown_parameter() -> str:
        import grpc as grpc_lib
        from tritonclient.grpc import service_pb2, service_pb2_grpc

        stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc_lib.insecure_channel(grpc_url))
        request = service_pb2.RepositoryModelLoadRequest(model_name="iris")
        request.parameters["unload_dependents"].bool_param = True
        try:
            stub.RepositoryModelLoad(request, timeout=30)
        except grpc_lib.RpcError as e:
            expect(e.code() == grpc_lib.StatusCode.INVALID_ARGUMENT, str(e.code()))
            expect("unknown parameter 'unload_dependents'" in (e.details() or ""), e.details() or "")
            return e.details()
        raise AssertionError("accepted an unknown load parameter")

    def file_config_bytes_over_grpc() -> str:
        import grpc as grpc_lib
        from tritonclient.grpc import service_pb2, service_pb2_grpc

        stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc_lib.insecure_channel(grpc_url))
        request = service_pb2.RepositoryModelLoadRequest(model_name="identity-bad")
        request.parameters["config"].string_param = IDENTITY_CONFIG
        request.parameters["file:1/model.onnx"].bool_param = True
        try:
            stub.RepositoryModelLoad(request, timeout=30)
        except grpc_lib.RpcError as e:
            expect(e.code() == grpc_lib.StatusCode.INVALID_ARGUMENT, str(e.code()))
            expect("bytes_param" in (e.details() or ""), e.details() or "")
            return e.details()
        raise AssertionError("accepted a file: parameter without contents")

    check("http.load.not_base64", rest_not_base64)
    check("http.load.unknown_parameter", rest_unknown_parameter)
    check("http.load.config_not_string", rest_config_not_string)
    check("grpc.load.unknown_parameter", grpc_unknown_parameter)
    check("grpc.load.file_not_bytes", file_config_bytes_over_grpc)
    check(
        "load.invalid_files.nothing_loaded",
        lambda: expect(
            all(e["name"] != "identity-bad" or e["state"] != "READY" for e in http.get_model_repository_index()),
            "identity-bad must not serve",
        ),
    )
    check("http.unload.unload_dependents", lambda: http.unload_model("iris", unload_dependents=True) or http.load_model("iris"))


def raw_output_checks(http: Any, grpc: Any, httpclient: Any, grpcclient: Any, grpc_url: str) -> None:
    data = {dt: sample(dt) for dt in DTYPES}
    results: dict[str, Any] = {}

    def infer(protocol: str) -> str:
        client, module, model = (
            (grpc, grpcclient, "identity-grpc") if protocol == "grpc" else (http, httpclient, "identity-http")
        )
        inputs = []
        for dt, values in data.items():
            t = module.InferInput(f"IN_{dt}", list(values.shape), dt)
            t.set_data_from_numpy(values)
            inputs.append(t)
        outputs = [module.InferRequestedOutput(f"OUT_{dt}") for dt in DTYPES]
        results[protocol] = client.infer(model, inputs, outputs=outputs)
        if protocol == "grpc":
            raw = results[protocol].get_response().raw_output_contents
            expect(len(raw) == len(DTYPES), f"{len(raw)} raw_output_contents for {len(DTYPES)} outputs")
        return model

    for protocol in ("grpc", "http"):
        if not check(f"{protocol}.identity.infer", lambda protocol=protocol: infer(protocol)):
            continue
        for dt, values in data.items():
            def same(dt: str = dt, values: np.ndarray = values, protocol: str = protocol) -> str:
                got = results[protocol].as_numpy(f"OUT_{dt}")
                expect(got is not None and got.shape == values.shape, f"shape {None if got is None else got.shape}")
                expect(got.tolist() == values.tolist(), f"{got.tolist()} != {values.tolist()}")
                return repr(got.tolist())

            check(f"{protocol}.identity.as_numpy.{dt}", same)

    def typed_request_raw_answer() -> str:
        # A request with typed contents (int_contents) is still answered raw, as Triton does.
        import grpc as grpc_lib
        from tritonclient.grpc import InferResult, service_pb2, service_pb2_grpc

        stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc_lib.insecure_channel(grpc_url))
        request = service_pb2.ModelInferRequest(model_name="simple")
        for name in ("INPUT0", "INPUT1"):
            tensor = request.inputs.add(name=name, datatype="INT32", shape=[1, 16])
            tensor.contents.int_contents.extend(range(16))
        response = stub.ModelInfer(request, timeout=30)
        expect(len(response.raw_output_contents) == 2, "raw_output_contents")
        expect(all(not o.HasField("contents") for o in response.outputs), "no typed contents")
        out = InferResult(response).as_numpy("OUTPUT0")
        expect(out.tolist() == [[2 * i for i in range(16)]], str(out.tolist()))
        return repr(out.tolist())

    check("grpc.raw_outputs.typed_request", typed_request_raw_answer)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--http", required=True)
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--models-dir", required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()

    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    http = httpclient.InferenceServerClient(args.http, connection_timeout=args.timeout, network_timeout=args.timeout)
    grpc = grpcclient.InferenceServerClient(args.grpc)
    try:
        config_checks(http, grpc, args.models_dir)
        statistics_checks(http, grpc, httpclient, grpcclient)
        load_checks(http, grpc, args.http, args.grpc)
        raw_output_checks(http, grpc, httpclient, grpcclient, args.grpc)
    finally:
        for name in ("identity-http", "identity-grpc"):
            try:
                http.unload_model(name)
            except Exception as e:  # noqa: BLE001
                log(f"cleanup: unload {name}: {e}")
        check("cleanup.iris_ready", lambda: expect(http.is_model_ready("iris"), "iris ready at the end"))
    print(json.dumps({"checks": CHECKS}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

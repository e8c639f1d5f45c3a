"""Sends requests built with the `mlserver` package's own codecs to a V2 server over REST and gRPC,
and decodes the answers with MLServer's InferenceResponse and codecs, as an MLServer user's client
code does (mlserver-features.md §8.3). Runs in the mlserver virtualenv (test/peers/mlserver.peer.mjs).

Reads one JSON document on stdin: {"http": "HOST:PORT", "grpc": "HOST:PORT", "cases": [...]}; each
case is {"id", "model", "version"?, "codec", ...codec fields, "outputs"?: [{"name", "content_type"?}],
"transports"?: ["rest", "grpc"]}. Codecs: np_request (array, dtype), np_input (name, array, dtype),
pd (columns, rows), str_request (strings), str_input (name, strings), base64_input (name, texts:
strings whose UTF-8 bytes are sent), datetime_input (name, values: ISO 8601), raw (request: a dict
as the MLServer docs write it). Prints one JSON line: {"results": [{"id", "transport", "outputs":
[{"name", "datatype", "shape", "content_type", "decoded"}]} | {"id", "transport", "error", "status"}]}.
"""
import json
import sys
from datetime import datetime

import grpc
import numpy as np
import pandas as pd
import requests
from mlserver.codecs import (
    Base64Codec,
    DatetimeCodec,
    NumpyCodec,
    NumpyRequestCodec,
    PandasCodec,
    StringCodec,
)
from mlserver.codecs.base import find_input_codec
from mlserver.codecs.string import StringRequestCodec
from mlserver.grpc import dataplane_pb2_grpc
from mlserver.grpc.converters import ModelInferRequestConverter, ModelInferResponseConverter
from mlserver.types import InferenceRequest, InferenceResponse, Parameters, RequestOutput


def build(case, use_bytes):
    codec = case["codec"]
    if codec == "np_request":
        request = NumpyRequestCodec.encode_request(np.array(case["array"], dtype=case["dtype"]))
    elif codec == "np_input":
        arr = np.array([np.nan if v is None else v for v in case["array"]], dtype=case["dtype"]) if case.get("flat") else np.array(case["array"], dtype=case["dtype"])
        request = InferenceRequest(inputs=[NumpyCodec.encode_input(case["name"], arr)])
    elif codec == "pd":
        frame = pd.DataFrame(case["rows"], columns=case["columns"])
        request = PandasCodec.encode_request(frame, use_bytes=use_bytes)
    elif codec == "str_request":
        request = StringRequestCodec.encode_request(case["strings"], use_bytes=use_bytes)
    elif codec == "str_input":
        request = InferenceRequest(inputs=[StringCodec.encode_input(case["name"], case["strings"], use_bytes=use_bytes)])
    elif codec == "base64_input":
        payload = [t.encode("utf-8") for t in case["texts"]]
        request = InferenceRequest(inputs=[Base64Codec.encode_input(case["name"], payload, use_bytes=use_bytes)])
    elif codec == "datetime_input":
        values = [datetime.fromisoformat(v) for v in case["values"]]
        request = InferenceRequest(inputs=[DatetimeCodec.encode_input(case["name"], values, use_bytes=use_bytes)])
    elif codec == "raw":
        request = InferenceRequest.model_validate(case["request"])
    else:
        raise ValueError(f"unknown codec {codec}")
    if case.get("outputs"):
        request.outputs = [
            RequestOutput(name=o["name"], parameters=Parameters(content_type=o["content_type"]) if o.get("content_type") else None)
            for o in case["outputs"]
        ]
    return request


def plain(value):
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, bytes):
        return {"hex": value.hex()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def decode(response):
    outputs = []
    for output in response.outputs:
        content_type = output.parameters.content_type if output.parameters else None
        codec = find_input_codec(content_type) if content_type else None
        if codec is NumpyCodec and output.datatype == "BYTES":
            # NumpyCodec reads gRPC bytes as fixed-size elements of shape[-1] bytes (numpy.py
            # to_dtype), which splits text; MLServer users read string predictions as strings.
            codec = StringCodec
        decoded = codec.decode_output(output) if codec else output.data.root
        if isinstance(decoded, np.ndarray):
            decoded = {"dtype": str(decoded.dtype), "shape": list(decoded.shape), "values": plain(decoded.tolist())}
        else:
            decoded = plain(list(decoded))
        outputs.append({
            "name": output.name,
            "datatype": output.datatype,
            "shape": list(output.shape),
            "content_type": content_type,
            "decoded": decoded,
        })
    return {"model_name": response.model_name, "model_version": response.model_version, "outputs": outputs}


def rest(http, case):
    path = f"/v2/models/{case['model']}"
    if case.get("version"):
        path += f"/versions/{case['version']}"
    request = build(case, use_bytes=False)
    answer = requests.post(f"http://{http}{path}/infer", data=request.model_dump_json(exclude_none=True),
                           headers={"content-type": "application/json"}, timeout=30)
    if answer.status_code != 200:
        return {"status": answer.status_code, "error": answer.json().get("error")}
    return decode(InferenceResponse.model_validate(answer.json()))


def grpc_call(stub, case):
    request = build(case, use_bytes=True)
    message = ModelInferRequestConverter.from_types(request, model_name=case["model"], model_version=case.get("version"))
    try:
        response = stub.ModelInfer(message, timeout=30)
    except grpc.RpcError as error:
        return {"status": error.code().name, "error": error.details()}
    return decode(ModelInferResponseConverter.to_types(response))


def main():
    doc = json.load(sys.stdin)
    channel = grpc.insecure_channel(doc["grpc"])
    stub = dataplane_pb2_grpc.GRPCInferenceServiceStub(channel)
    results = []
    for case in doc["cases"]:
        for transport in case.get("transports", ["rest", "grpc"]):
            try:
                answer = rest(doc["http"], case) if transport == "rest" else grpc_call(stub, case)
            except Exception as error:  # reported, so the test says which case failed and why
                answer = {"status": "client-error", "error": f"{type(error).__name__}: {error}"}
            results.append({"id": case["id"], "transport": transport, **answer})
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Infers one FP32 input on a named model with the OFFICIAL Triton clients over HTTP and gRPC.

    $TESSERA_PYTHON test/peers/python/infer_model.py --http HOST:PORT --grpc HOST:PORT \
        --model NAME --input NAME --output NAME --rows '[[5.1, 3.5, 1.4, 0.2]]'

Prints ONE JSON object: {"http": {"shape": [...], "data": [...]}, "grpc": {...}}; a protocol whose
call failed has {"error": "..."} instead. Exits 0 either way (the Node test asserts); 2 only for
bad arguments. Every call is bounded by --timeout seconds.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient


def _http(args: argparse.Namespace, rows: np.ndarray) -> dict:
    client = httpclient.InferenceServerClient(
        args.http, connection_timeout=args.timeout, network_timeout=args.timeout
    )
    tensor = httpclient.InferInput(args.input, list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows, binary_data=True)
    wanted = [httpclient.InferRequestedOutput(args.output, binary_data=True)]
    result = client.infer(args.model, [tensor], outputs=wanted)
    out = result.as_numpy(args.output)
    return {"shape": list(out.shape), "data": out.reshape(-1).tolist()}


def _grpc(args: argparse.Namespace, rows: np.ndarray) -> dict:
    client = grpcclient.InferenceServerClient(args.grpc)
    tensor = grpcclient.InferInput(args.input, list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows)
    wanted = [grpcclient.InferRequestedOutput(args.output)]
    result = client.infer(args.model, [tensor], outputs=wanted, client_timeout=args.timeout)
    out = result.as_numpy(args.output)
    return {"shape": list(out.shape), "data": out.reshape(-1).tolist()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", required=True)
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--rows", required=True, help="JSON list of rows")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    rows = np.asarray(json.loads(args.rows), dtype=np.float32)
    doc: dict = {}
    for name, call in (("http", _http), ("grpc", _grpc)):
        try:
            doc[name] = call(args, rows)
        except Exception as error:  # the Node side reports which protocol failed and why
            doc[name] = {"error": f"{type(error).__name__}: {error}"}
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())

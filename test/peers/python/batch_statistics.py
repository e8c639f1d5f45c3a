#!/usr/bin/env python3
"""Reads one model's configuration and statistics with the OFFICIAL Triton clients (HTTP and gRPC).

    $TESSERA_PYTHON test/peers/python/batch_statistics.py --http HOST:PORT --grpc HOST:PORT --model NAME

Prints ONE JSON object: {"http": {"config": ..., "stats": ...}, "grpc": {...}} with the documents as
each client returns them (gRPC messages through MessageToDict); a protocol whose call failed has
{"error": "..."} instead. Exits 0 either way (the Node test asserts).
"""

from __future__ import annotations

import argparse
import json
import sys

import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from google.protobuf.json_format import MessageToDict


def _http(args: argparse.Namespace) -> dict:
    client = httpclient.InferenceServerClient(args.http, network_timeout=30)
    return {
        "config": client.get_model_config(args.model),
        "stats": client.get_inference_statistics(args.model),
    }


def _grpc(args: argparse.Namespace) -> dict:
    client = grpcclient.InferenceServerClient(args.grpc)
    config = client.get_model_config(args.model, client_timeout=30)
    stats = client.get_inference_statistics(args.model, client_timeout=30)
    return {
        "config": MessageToDict(config, preserving_proto_field_name=True)["config"],
        "stats": MessageToDict(stats, preserving_proto_field_name=True),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", required=True)
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    doc: dict = {}
    for name, call in (("http", _http), ("grpc", _grpc)):
        try:
            doc[name] = call(args)
        except Exception as error:  # the Node side reports which protocol failed and why
            doc[name] = {"error": f"{type(error).__name__}: {error}"}
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Sends BYTES tensors through the OFFICIAL Triton clients and reports what came back.

    $TESSERA_PYTHON test/peers/python/bytes_roundtrip.py --http HOST:PORT --grpc HOST:PORT \\
        --model strings < CASES.json

The model must have one BYTES input `input` [-1] and one BYTES output `output` (the `strings`
fixture: Identity). CASES.json (on stdin) maps a case name to a list of hex-encoded elements. Every case is
sent over HTTP with the binary extension, over HTTP as JSON (only when every element is UTF-8, as
JSON strings must be) and over gRPC. Prints ONE JSON object on stdout:

    {"results": [{"case": "exact", "path": "http.binary", "values": ["68656c6c6f", ...]},
                 {"case": "nul", "path": "grpc", "error": "...", "status": "StatusCode.INVALID_ARGUMENT"}]}

The Node test asserts on it; this script judges nothing. Diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

import numpy as np


def element_bytes(value: Any) -> bytes:
    """tritonclient returns BYTES as bytes (binary paths) or str (JSON); compare as bytes."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def outcome(case: str, path: str, run: Callable[[], np.ndarray]) -> dict[str, Any]:
    try:
        values = run()
        return {"case": case, "path": path, "values": [element_bytes(v).hex() for v in values.ravel()]}
    except Exception as e:  # noqa: BLE001 - an error is a result the Node test judges
        message, status = getattr(e, "message", None), getattr(e, "status", None)
        return {
            "case": case,
            "path": path,
            "error": str(message()) if callable(message) else str(e),
            "status": str(status()) if callable(status) else None,
        }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", required=True)
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--model", default="strings")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()

    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    cases: dict[str, list[str]] = json.load(sys.stdin)
    http = httpclient.InferenceServerClient(args.http, connection_timeout=args.timeout, network_timeout=args.timeout)
    grpc = grpcclient.InferenceServerClient(args.grpc)

    def via_http(array: np.ndarray, binary: bool) -> np.ndarray:
        i = httpclient.InferInput("input", list(array.shape), "BYTES")
        i.set_data_from_numpy(array, binary_data=binary)
        out = httpclient.InferRequestedOutput("output", binary_data=binary)
        return http.infer(args.model, [i], outputs=[out]).as_numpy("output")

    def via_grpc(array: np.ndarray) -> np.ndarray:
        i = grpcclient.InferInput("input", list(array.shape), "BYTES")
        i.set_data_from_numpy(array)
        out = grpcclient.InferRequestedOutput("output")
        return grpc.infer(args.model, [i], outputs=[out], client_timeout=args.timeout).as_numpy("output")

    results = []
    for case, hex_elements in cases.items():
        elements = [bytes.fromhex(h) for h in hex_elements]
        array = np.array(elements, dtype=np.object_)
        results.append(outcome(case, "http.binary", lambda: via_http(array, True)))
        try:
            for e in elements:
                e.decode("utf-8")
            results.append(outcome(case, "http.json", lambda: via_http(array, False)))
        except UnicodeDecodeError:
            print(f"[bytes_roundtrip] {case}: not UTF-8, no JSON request", file=sys.stderr)
        results.append(outcome(case, "grpc", lambda: via_grpc(array)))

    sys.stdout.write(json.dumps({"results": results}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

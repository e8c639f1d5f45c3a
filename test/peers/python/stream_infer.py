#!/usr/bin/env python3
"""Streams requests through the OFFICIAL Triton gRPC client (start_stream / async_stream_infer).

    $TESSERA_PYTHON test/peers/python/stream_infer.py --grpc HOST:PORT < REQUESTS.json

REQUESTS.json (on stdin): {"requests": [{"model": "text-model", "id": "r1", "input": "prompt",
"text": "a b c", "output": "output", "final": true}, ...], "cancel_after": null | N}

Every request is sent on ONE stream, in order. Each has one BYTES input holding `text`; `final`
sets enable_empty_final_response. The script collects callbacks until every request got its last
response (the empty final one when `final`, else an error or one response), or, with
`cancel_after`, closes the stream with cancel_requests=True once N responses arrived.

Prints ONE JSON object on stdout:
    {"responses": [{"id": "r1", "values": ["a"], "final": false}, {"id": "r1", "error": "..."}, ...]}
The Node test judges it; this script judges nothing. Diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    doc = json.load(sys.stdin)
    requests: list[dict[str, Any]] = doc["requests"]
    cancel_after = doc.get("cancel_after")

    events: "queue.Queue[dict[str, Any]]" = queue.Queue()

    def callback(result: Any, error: Any) -> None:
        if error is not None:
            events.put({"error": str(error.message() if hasattr(error, "message") else error)})
            return
        response = result.get_response()
        params = response.parameters
        final = params["triton_final_response"].bool_param if "triton_final_response" in params else None
        entry: dict[str, Any] = {"id": response.id, "final": final}
        if len(response.outputs) > 0:
            values = result.as_numpy(response.outputs[0].name)
            entry["values"] = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values.ravel()]
        events.put(entry)

    client = grpcclient.InferenceServerClient(url=args.grpc)
    client.start_stream(callback=callback, stream_timeout=args.timeout)
    for req in requests:
        tensor = grpcclient.InferInput(req["input"], [1], "BYTES")
        tensor.set_data_from_numpy(np.array([req["text"].encode("utf-8")], dtype=np.object_))
        client.async_stream_infer(
            model_name=req["model"],
            inputs=[tensor],
            outputs=[grpcclient.InferRequestedOutput(req["output"])],
            request_id=req["id"],
            enable_empty_final_response=bool(req.get("final", False)),
        )

    responses: list[dict[str, Any]] = []
    finished = 0
    try:
        while finished < len(requests):
            event = events.get(timeout=args.timeout)
            responses.append(event)
            if cancel_after is not None and len(responses) >= cancel_after:
                break
            # A request is done at its error, its empty final response, or (without `final`) its one response.
            if "error" in event or event.get("final") is True:
                finished += 1
            elif event.get("final") is None:
                finished += 1
    except queue.Empty:
        responses.append({"timeout": True})
    client.stop_stream(cancel_requests=cancel_after is not None)
    client.close()
    print(json.dumps({"responses": responses}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

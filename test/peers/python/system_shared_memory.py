#!/usr/bin/env python3
"""Triton's system shared-memory extension through the OFFICIAL tritonclient, on both protocols.

Run by test/integration/server/system-shared-memory.test.ts against a running server started
with allow_client_shm, serving the `simple` example model (OUTPUT0 = INPUT0 + INPUT1,
OUTPUT1 = INPUT0 - INPUT1, INT32 [1, 16]):

    $TESSERA_PYTHON test/peers/python/system_shared_memory.py \
        --http localhost:8080 --grpc localhost:8081

The regions are made with tritonclient.utils.shared_memory (shm_open + mmap in its libcshm), as
Triton's simple_http_shm_client.py / simple_grpc_shm_client.py make them. Covers inputs and
outputs in shared memory (at offsets), a request mixing shared-memory and socket tensors (the gRPC
raw_input_contents / raw_output_contents alignment), status, unregister, and the errors for a
region past the end of its object, an unknown region, a byte size that does not fit the shape and
an output region too small. Prints ONE JSON object {"checks": [...]} and exits 0 even when checks
fail (the Node test asserts each); diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
import tritonclient.utils.shared_memory as shm
from tritonclient.utils import InferenceServerException

from triton_conformance import CHECKS, check, expect  # noqa: E402

SHAPE = [1, 16]
BYTES = 16 * 4


def expect_error(fn: Any, fragment: str) -> str:
    """Runs fn, which must raise InferenceServerException whose message contains fragment."""
    try:
        fn()
    except InferenceServerException as e:
        message = e.message()
        expect(fragment in message, f"error {message!r} does not contain {fragment!r}")
        return message
    raise AssertionError(f"no error; expected one containing {fragment!r}")


def region_names(client: Any, protocol: str) -> dict[str, int]:
    status = client.get_system_shared_memory_status()
    if protocol == "http":
        return {r["name"]: int(r["byte_size"]) for r in status}
    return {name: int(r.byte_size) for name, r in status.regions.items()}


def run(protocol: str, url: str) -> None:
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(url)
    pid = os.getpid()
    input_key, output_key = f"/tessera_{protocol}_in_{pid}", f"/tessera_{protocol}_out_{pid}"
    in_region, out_region = f"{protocol}_input", f"{protocol}_output"
    client.unregister_system_shared_memory()

    input0 = np.arange(16, dtype=np.int32).reshape(SHAPE)
    input1 = np.full(SHAPE, 3, dtype=np.int32)
    in_handle = shm.create_shared_memory_region(in_region, input_key, 2 * BYTES)
    out_handle = shm.create_shared_memory_region(out_region, output_key, 2 * BYTES)
    try:
        shm.set_shared_memory_region(in_handle, [input0, input1])
        client.register_system_shared_memory(in_region, input_key, 2 * BYTES)
        client.register_system_shared_memory(out_region, output_key, 2 * BYTES)

        def requested(name: str) -> Any:
            if protocol == "http":
                return httpclient.InferRequestedOutput(name, binary_data=True)
            return grpcclient.InferRequestedOutput(name)

        def all_in_shm() -> str:
            inputs = [module.InferInput("INPUT0", SHAPE, "INT32"), module.InferInput("INPUT1", SHAPE, "INT32")]
            inputs[0].set_shared_memory(in_region, BYTES)
            inputs[1].set_shared_memory(in_region, BYTES, offset=BYTES)
            outputs = [requested("OUTPUT0"), requested("OUTPUT1")]
            outputs[0].set_shared_memory(out_region, BYTES)
            outputs[1].set_shared_memory(out_region, BYTES, offset=BYTES)
            result = client.infer("simple", inputs, outputs=outputs)
            output0 = result.get_output("OUTPUT0")
            expect(output0 is not None, "OUTPUT0 is missing from the response")
            sums = shm.get_contents_as_numpy(out_handle, np.int32, SHAPE)
            diffs = shm.get_contents_as_numpy(out_handle, np.int32, SHAPE, offset=BYTES)
            expect(np.array_equal(sums, input0 + input1), f"OUTPUT0 in shared memory is {sums}")
            expect(np.array_equal(diffs, input0 - input1), f"OUTPUT1 in shared memory is {diffs}")
            if protocol == "http":
                expect("data" not in output0, f"OUTPUT0 also came over the socket: {output0}")
                outputs_json = result.get_response()["outputs"]
                expect(
                    all("data" not in o and "parameters" not in o for o in outputs_json),
                    f"outputs carry data or binary sizes: {outputs_json}",
                )
            else:
                raw = result.get_response().raw_output_contents
                expect(all(len(r) == 0 for r in raw), f"raw outputs carry bytes: {[len(r) for r in raw]}")
            return "both inputs read from and both outputs written to shared memory"

        check(f"{protocol}: inputs and outputs in shared memory", all_in_shm)

        def mixed() -> str:
            # INPUT0 from shared memory, INPUT1 over the socket; OUTPUT0 to shared memory, OUTPUT1
            # over the socket: on gRPC, raw_input_contents holds only INPUT1, and
            # raw_output_contents keeps an empty entry for OUTPUT0 so OUTPUT1 stays at index 1.
            out_zero = np.zeros(2 * 16, dtype=np.int32)
            shm.set_shared_memory_region(out_handle, [out_zero])
            second = np.full(SHAPE, 7, dtype=np.int32)
            inputs = [module.InferInput("INPUT0", SHAPE, "INT32"), module.InferInput("INPUT1", SHAPE, "INT32")]
            inputs[0].set_shared_memory(in_region, BYTES)
            inputs[1].set_data_from_numpy(second)
            outputs = [requested("OUTPUT0"), requested("OUTPUT1")]
            outputs[0].set_shared_memory(out_region, BYTES)
            result = client.infer("simple", inputs, outputs=outputs)
            sums = shm.get_contents_as_numpy(out_handle, np.int32, SHAPE)
            expect(np.array_equal(sums, input0 + second), f"OUTPUT0 in shared memory is {sums}")
            diffs = result.as_numpy("OUTPUT1")
            expect(diffs is not None and np.array_equal(diffs, input0 - second), f"OUTPUT1 is {diffs}")
            return "mixed request answered correctly"

        check(f"{protocol}: shared memory and socket tensors in one request", mixed)

        def status() -> str:
            names = region_names(client, protocol)
            expect(names == {in_region: 2 * BYTES, out_region: 2 * BYTES}, f"status lists {names}")
            return str(names)

        check(f"{protocol}: status lists the registered regions", status)

        check(
            f"{protocol}: a region past the end of its object is refused",
            lambda: expect_error(
                lambda: client.register_system_shared_memory("too_big", input_key, 4096), "past the end"
            ),
        )
        check(
            f"{protocol}: registering a name twice is refused",
            lambda: expect_error(
                lambda: client.register_system_shared_memory(in_region, input_key, BYTES), "already in manager"
            ),
        )
        check(
            f"{protocol}: a missing object is refused",
            lambda: expect_error(
                lambda: client.register_system_shared_memory("nowhere", f"/tessera_missing_{pid}", 8),
                "does not exist",
            ),
        )

        def infer_error(setup: Any, fragment: str) -> str:
            inputs = [module.InferInput("INPUT0", SHAPE, "INT32"), module.InferInput("INPUT1", SHAPE, "INT32")]
            inputs[1].set_data_from_numpy(input1)
            outputs = [requested("OUTPUT0")]
            setup(inputs, outputs)
            return expect_error(lambda: client.infer("simple", inputs, outputs=outputs), fragment)

        check(
            f"{protocol}: an unknown region is refused",
            lambda: infer_error(
                lambda i, o: i[0].set_shared_memory("no_such_region", BYTES),
                "Unable to find shared memory region: 'no_such_region'",
            ),
        )
        check(
            f"{protocol}: a byte size that does not fit the shape is refused",
            lambda: infer_error(
                lambda i, o: i[0].set_shared_memory(in_region, BYTES - 4), "shared_memory_byte_size is 60"
            ),
        )
        check(
            f"{protocol}: an offset past the region is refused",
            lambda: infer_error(
                lambda i, o: i[0].set_shared_memory(in_region, BYTES, offset=2 * BYTES),
                "Invalid offset + byte size",
            ),
        )

        def small_output(i: Any, o: Any) -> None:
            i[0].set_data_from_numpy(input0)
            o[0].set_shared_memory(out_region, 8)

        check(
            f"{protocol}: an output region too small is refused",
            lambda: infer_error(small_output, "should be at least 64 bytes"),
        )

        def unregister() -> str:
            client.unregister_system_shared_memory(in_region)
            names = region_names(client, protocol)
            expect(list(names) == [out_region], f"after unregistering one, status lists {names}")
            client.unregister_system_shared_memory()
            names = region_names(client, protocol)
            expect(names == {}, f"after unregistering all, status lists {names}")
            return "one, then all"

        check(f"{protocol}: unregister one region, then all", unregister)
    finally:
        client.unregister_system_shared_memory()
        shm.destroy_shared_memory_region(in_handle)
        shm.destroy_shared_memory_region(out_handle)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", required=True)
    parser.add_argument("--grpc", required=True)
    args = parser.parse_args()
    run("http", args.http)
    run("grpc", args.grpc)
    print(json.dumps({"checks": CHECKS}))


if __name__ == "__main__":
    main()

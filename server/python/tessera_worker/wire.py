"""The framed messages of docs/python-runtimes.md, Python side (server/src/runtime/python/wire.ts).

Header (little-endian): u32 magic "TSW1", u8 kind, u8 flags, u16 reserved, u32 message id,
u32 head length, u32 body length; then the UTF-8 JSON head, then the raw body.
"""
import asyncio
import json
import struct

MAGIC = 0x31575354
HEADER = struct.Struct("<IBBHIII")

HELLO, LOAD, UNLOAD, INFER, OK, ERROR = 1, 2, 3, 4, 5, 6
# A stream: STREAM in, PART per response, then OK or ERROR; CANCEL stops it.
STREAM, PART, CANCEL = 7, 8, 9
# worker -> server, unasked (id 0): a custom metric from mlserver.register / mlserver.log.
METRIC = 10
# server -> worker: an HTTP request for one of a model's custom REST handlers (handlers.py).
HTTP = 11
KINDS = {HELLO, LOAD, UNLOAD, INFER, OK, ERROR, STREAM, PART, CANCEL, METRIC, HTTP}


class FrameError(Exception):
    pass


async def read_frame(reader: asyncio.StreamReader):
    """One frame, or None at end of stream."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError:
        return None
    magic, kind, _flags, _reserved, msg_id, head_len, body_len = HEADER.unpack(header)
    if magic != MAGIC or kind not in KINDS:
        raise FrameError("bad frame header")
    head = json.loads(await reader.readexactly(head_len)) if head_len else None
    body = await reader.readexactly(body_len) if body_len else b""
    return kind, msg_id, head, body


def encode_frame(kind: int, msg_id: int, head, body_parts=()) -> bytes:
    head_bytes = json.dumps(head, separators=(",", ":")).encode("utf-8")
    body_len = sum(len(p) for p in body_parts)
    return b"".join(
        [HEADER.pack(MAGIC, kind, 0, 0, msg_id, len(head_bytes), body_len), head_bytes, *body_parts]
    )

// Single requests used to check answers before measuring: REST JSON, REST with the binary tensor
// extension, and gRPC ModelInfer (pre-encoded request, decoded response).
import grpc from '@grpc/grpc-js';
import { MODEL_INFER, decodeInferResponse } from './proto.mjs';

export async function restJson(url, body) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${url} -> ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** POSTs a binary-extension request; returns the first output's values as a Float32Array. */
export async function restBinary(url, header, bytes) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.length),
    },
    body: Buffer.concat([header, bytes]),
    signal: AbortSignal.timeout(10_000),
  });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200)
    throw new Error(`POST ${url} (binary) -> ${res.status}: ${body.toString().slice(0, 300)}`);
  const length = Number(res.headers.get('inference-header-content-length'));
  if (!Number.isInteger(length) || length <= 0)
    throw new Error('binary response without Inference-Header-Content-Length');
  const json = JSON.parse(body.subarray(0, length).toString());
  const size = json.outputs[0].parameters?.binary_data_size;
  const data = body.subarray(length, length + size);
  return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

/** One ModelInfer call with pre-encoded request bytes; resolves with the decoded response. */
export function grpcOnce(target, requestBytes) {
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 256 * 1024 * 1024,
    'grpc.max_send_message_length': 256 * 1024 * 1024,
  });
  const identity = (b) => b;
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      MODEL_INFER,
      identity,
      identity,
      requestBytes,
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
      (err, reply) => {
        client.close();
        if (err) reject(new Error(`gRPC ModelInfer on ${target}: ${err.code} ${err.details}`));
        else resolve(decodeInferResponse(reply));
      },
    );
  });
}

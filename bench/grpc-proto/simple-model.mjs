// What both prototypes share: the `simple` model (OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 -
// INPUT1, INT32 [1,16]) computed in JavaScript on the raw contents, and a plain-HTTP /count route
// that the harness (bench/server/grpc-cpu.mjs) reads to know how many ModelInfer calls were served.
// The model is computed here, not by onnxruntime, so the prototypes compare the gRPC stacks alone.
import { createServer } from 'node:http';

/** The tensors' description, in the v2 metadata's words. */
export const TENSORS = {
  inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: ['1', '16'] })),
  outputs: ['OUTPUT0', 'OUTPUT1'].map((name) => ({ name, datatype: 'INT32', shape: ['1', '16'] })),
};

/** TYPE_INT32 in Triton's model_config.proto DataType enum. */
export const TYPE_INT32 = 8;

let served = 0;

/** The sum and difference of two raw little-endian INT32 [1,16] tensors, as raw contents. */
export function computeSimple(raw0, raw1) {
  if (raw0?.byteLength !== 64 || raw1?.byteLength !== 64) {
    throw new Error('simple expects two raw INT32 [1,16] inputs');
  }
  const a = new Int32Array(raw0.buffer.slice(raw0.byteOffset, raw0.byteOffset + 64));
  const b = new Int32Array(raw1.buffer.slice(raw1.byteOffset, raw1.byteOffset + 64));
  const sum = new Int32Array(16);
  const diff = new Int32Array(16);
  for (let i = 0; i < 16; i++) {
    sum[i] = a[i] + b[i];
    diff[i] = a[i] - b[i];
  }
  served++;
  return [new Uint8Array(sum.buffer), new Uint8Array(diff.buffer)];
}

/** Serves GET /count (ModelInfer calls answered so far) on 127.0.0.1:port. */
export function serveCount(port) {
  createServer((_req, res) => res.end(String(served))).listen(port, '127.0.0.1');
}

/** Stops on SIGINT/SIGTERM through process.exit, so `--cpu-prof` still writes its profile. */
export function exitOnSignal(close) {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      close();
      process.exit(0);
    });
  }
}

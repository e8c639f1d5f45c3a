/**
 * The engine module (runtime/engine.ts) for ONNX models: opens an onnxruntime-node session and
 * runs requests on it. The engine worker opens it in a thread of the shared pool
 * (runtime/engine-threads.ts); `parallel_workers: 0` opens it on the main thread.
 *
 * onnxruntime-node's `session.run` defers to `setImmediate`, then computes synchronously on the
 * calling thread (the native call blocks the thread for the whole run), so runs on one thread
 * never overlap and a model with real compute would stall the event loop if it ran there.
 */
import * as ort from 'onnxruntime-node';
import type { Engine } from './engine.js';
import {
  openSession,
  runSession,
  sessionMetadata,
  type PortableMetadata,
  type PortableTensor,
} from './onnx-tensors.js';

/** What a thread needs to open a session; structured-cloneable. */
export interface OnnxOpenArgs {
  /** The model file, or its bytes when it was rewritten at load (onnx-zipmap.ts). */
  readonly model: string | Uint8Array;
  readonly options: ort.InferenceSession.SessionOptions;
}

/** One inference: the feeds and the outputs wanted. */
export interface OnnxRequest {
  readonly feeds: readonly PortableTensor[];
  readonly outputNames: readonly string[];
}

/** An open ONNX session as an engine. */
export type OnnxEngine = Engine<OnnxRequest, PortableTensor[], PortableMetadata>;

/** Opens a session; `close` releases it (`session.release()`). */
export async function open(args: OnnxOpenArgs): Promise<OnnxEngine> {
  const session = await openSession(args.model, args.options, ort);
  return {
    metadata: sessionMetadata(session),
    run: (request) => runSession(ort, session, request.feeds, request.outputNames),
    close: () => session.release(),
  };
}

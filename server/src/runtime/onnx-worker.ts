/**
 * A piscina worker that owns one ONNX Runtime session. onnxruntime-node runs `session.run` on the
 * calling thread, so a model with real compute would block the event loop (health probes, every
 * other request) for its whole duration; in a worker it blocks only this thread.
 */
import * as ort from 'onnxruntime-node';
import { workerData } from 'piscina';
import {
  runSession,
  sessionMetadata,
  type PortableMetadata,
  type PortableTensor,
} from './onnx-tensors.js';

/** What the main thread passes when it creates the pool. */
export interface OnnxWorkerData {
  readonly file: string;
  readonly options: ort.InferenceSession.SessionOptions;
}

/** A task: read the metadata, or run an inference. */
export type OnnxTask =
  | { readonly kind: 'metadata' }
  | {
      readonly kind: 'run';
      readonly feeds: readonly PortableTensor[];
      readonly outputNames: readonly string[];
    };

const data = workerData as OnnxWorkerData;
// Created once per worker; a failure surfaces on the first task, which load() always sends.
const session: Promise<ort.InferenceSession> = ort.InferenceSession.create(data.file, data.options);
session.catch(() => undefined);

/** The worker's entry point. */
export default async function handle(task: OnnxTask): Promise<PortableMetadata | PortableTensor[]> {
  const s = await session;
  if (task.kind === 'metadata') return sessionMetadata(s);
  return runSession(ort, s, task.feeds, task.outputNames);
}

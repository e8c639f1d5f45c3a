/**
 * A piscina worker that owns ONNX Runtime sessions. onnxruntime-node runs `session.run` on the
 * calling thread, so a model with real compute would block the event loop (health probes, every
 * other request) for its whole duration; in a worker it blocks only this thread.
 *
 * The thread outlives the sessions it hosts (runtime/worker-pool.ts): a load opens a session
 * here, an unload closes it with `session.release()`, and the next load reuses the thread.
 */
import * as ort from 'onnxruntime-node';
import {
  openSession,
  runSession,
  sessionMetadata,
  type PortableMetadata,
  type PortableTensor,
} from './onnx-tensors.js';

/** A task: open, run or close a session (by the id the main thread gave it), or count them. */
export type OnnxTask =
  | {
      readonly kind: 'open';
      readonly session: number;
      /** The model file, or its bytes when it was rewritten at load (onnx-zipmap.ts). */
      readonly model: string | Uint8Array;
      readonly options: ort.InferenceSession.SessionOptions;
    }
  | {
      readonly kind: 'run';
      readonly session: number;
      readonly feeds: readonly PortableTensor[];
      readonly outputNames: readonly string[];
    }
  | { readonly kind: 'close'; readonly session: number }
  | { readonly kind: 'count' };

/** What a task answers: metadata (open), outputs (run), whether it closed one, or a count. */
export type OnnxTaskResult = PortableMetadata | PortableTensor[] | boolean | number;

const sessions = new Map<number, ort.InferenceSession>();

function sessionOf(id: number): ort.InferenceSession {
  const session = sessions.get(id);
  // Only after a crash replaced this thread (piscina respawns it without the old state).
  if (session === undefined) throw new Error('the model session is gone; load the model again');
  return session;
}

/** The worker's entry point. */
export default async function handle(task: OnnxTask): Promise<OnnxTaskResult> {
  switch (task.kind) {
    case 'open': {
      const session = await openSession(task.model, task.options, ort);
      sessions.set(task.session, session);
      return sessionMetadata(session);
    }
    case 'run':
      return runSession(ort, sessionOf(task.session), task.feeds, task.outputNames);
    case 'close': {
      const session = sessions.get(task.session);
      if (session === undefined) return false;
      sessions.delete(task.session);
      await session.release();
      return true;
    }
    case 'count':
      return sessions.size;
  }
}

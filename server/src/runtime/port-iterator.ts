/**
 * An async iterator carried across threads over a MessagePort, pull by pull: the main thread asks
 * for each item (`next`) and the worker advances the iterator it owns only then, so a slow client
 * makes a fast producer wait instead of filling memory, and `return` reaches the producer (a
 * runtime's `predictStream`) so it can stop and free what it holds. Node's worker threads have no
 * iterator transfer and piscina answers a task once, hence this small protocol (ADR 0011).
 */
import type { MessagePort } from 'node:worker_threads';
import { ErrorCode, ServerError } from '../errors.js';

/** Whether a task's result is a {@link PortReply} (the last one {@link serveIterator} sent). */
function isReply(value: unknown): value is PortReply {
  return typeof value === 'object' && value !== null && ('done' in value || 'error' in value);
}

/** Main thread → worker. */
type PortRequest = { readonly op: 'next' } | { readonly op: 'return' };

/** Worker → main thread: one answer per request, in order. */
export type PortReply =
  | { readonly done: false; readonly value: unknown }
  | { readonly done: true }
  | { readonly error: { readonly message: string; readonly code?: string } };

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** Rebuilds an error that crossed the port, keeping a ServerError's code. */
function errorFrom(reply: { readonly message: string; readonly code?: string }): Error {
  if (reply.code !== undefined && KNOWN_CODES.has(reply.code)) {
    return new ServerError(reply.code as ErrorCode, reply.message);
  }
  return new Error(reply.message);
}

function errorReply(error: unknown): PortReply {
  if (error instanceof ServerError) return { error: { message: error.message, code: error.code } };
  return { error: { message: error instanceof Error ? error.message : String(error) } };
}

/**
 * Worker side: answers the port's requests from `iterator` until it is done, fails, is returned or
 * the other side closes the port. Resolves then (the piscina task ends with the stream).
 */
export function serveIterator(
  iterator: AsyncIterator<unknown>,
  port: MessagePort,
): Promise<PortReply> {
  return new Promise((resolve) => {
    let chain: Promise<void> = Promise.resolve();
    let finished = false;
    // The last reply is also the task's result: the task may settle on the main thread before the
    // port delivers that reply, and an error must not read as the end of the stream.
    const finish = (last: PortReply): void => {
      if (finished) return;
      finished = true;
      port.close();
      resolve(last);
    };
    const answer = async (request: PortRequest): Promise<void> => {
      if (finished) return;
      try {
        const result = request.op === 'next' ? await iterator.next() : await iterator.return?.();
        if (request.op === 'return' || result?.done !== false) {
          const last: PortReply = { done: true };
          port.postMessage(last);
          finish(last);
          return;
        }
        port.postMessage({ done: false, value: result.value } satisfies PortReply);
      } catch (error) {
        const last = errorReply(error);
        port.postMessage(last);
        finish(last);
      }
    };
    port.on('message', (request: PortRequest) => {
      // One request at a time, in order: an iterator is not re-entrant.
      chain = chain.then(() => answer(request));
    });
    port.once('close', () => {
      // The main thread went away without a return: stop the producer all the same.
      chain = chain.then(async () => {
        if (finished) return;
        finished = true;
        await Promise.resolve(iterator.return?.()).catch(() => undefined);
        resolve({ done: true });
      });
    });
  });
}

/**
 * Main-thread side: an async iterator whose items come from {@link serveIterator} on the other end
 * of `port`. `task` is the worker task serving it: if the thread dies, pending pulls fail.
 */
export function portIterator<T>(port: MessagePort, task: Promise<unknown>): AsyncIterator<T> {
  const waiting: { resolve(reply: PortReply): void }[] = [];
  let ended = false;
  // Once the task settled nobody answers: later pulls get its outcome at once.
  let settled: PortReply | undefined;
  const end = (): void => {
    ended = true;
    port.close();
  };
  port.on('message', (reply: PortReply) => {
    waiting.shift()?.resolve(reply);
  });
  const settle = (reply: PortReply): void => {
    settled = reply;
    for (const w of waiting.splice(0)) w.resolve(reply);
  };
  task.then(
    (last) => {
      settle(isReply(last) ? last : { done: true });
    },
    (error: unknown) => {
      settle(errorReply(error));
    },
  );
  const ask = (request: PortRequest): Promise<PortReply> =>
    new Promise((resolve) => {
      if (settled !== undefined) {
        resolve(settled);
        return;
      }
      waiting.push({ resolve });
      port.postMessage(request);
    });
  return {
    async next(): Promise<IteratorResult<T>> {
      if (ended) return { done: true, value: undefined };
      const reply = await ask({ op: 'next' });
      if ('error' in reply) {
        end();
        throw errorFrom(reply.error);
      }
      if (reply.done) {
        end();
        return { done: true, value: undefined };
      }
      return { done: false, value: reply.value as T };
    },
    async return(): Promise<IteratorResult<T>> {
      if (ended) return { done: true, value: undefined };
      const reply = await ask({ op: 'return' });
      end();
      if ('error' in reply) throw errorFrom(reply.error);
      return { done: true, value: undefined };
    },
  };
}

// Server-sent events (`infer_stream`, `generate_stream`) read from a fetch response as they arrive.
import assert from 'node:assert/strict';
import type { ServerProcess } from './server-process.js';

/** POSTs a JSON body to the server's REST port (a stream's response is read with sseEvents). */
export function post(server: ServerProcess, path: string, body: unknown, signal?: AbortSignal) {
  return fetch(`${server.httpUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** Reads server-sent events from a response body as they arrive. */
export async function* sseEvents(res: Response): AsyncGenerator<Record<string, unknown>> {
  assert.ok(res.body, 'the response has a body');
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      assert.ok(block.startsWith('data: '), `an SSE data event: ${block}`);
      yield JSON.parse(block.slice('data: '.length)) as Record<string, unknown>;
      end = buffer.indexOf('\n\n');
    }
  }
  assert.equal(buffer, '', 'the stream ends on an event boundary');
}

export async function allEvents(res: Response): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const event of sseEvents(res)) out.push(event);
  return out;
}

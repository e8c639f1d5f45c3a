/**
 * The framed messages between the server and a Python worker (docs/python-runtimes.md, ADR 0015).
 * Language-neutral on purpose: a fixed little-endian header, a UTF-8 JSON head, then raw bytes
 * (tensor elements in their wire layout), so no pickle crosses the boundary and the worker's
 * Python and mlserver versions need not match anything in Node.
 *
 *   offset 0  u32  magic 0x31575354 ("TSW1")
 *          4  u8   kind (MessageKind)
 *          5  u8   flags (0)
 *          6  u16  reserved (0)
 *          8  u32  message id (a reply carries its request's id)
 *         12  u32  head length (bytes of JSON)
 *         16  u32  body length (bytes of raw data)
 *         20  ...  head, then body
 */

/** "TSW1" read as a little-endian u32. */
export const MAGIC = 0x31575354;
export const HEADER_BYTES = 20;
/** The largest head or body accepted; a longer length means a corrupt stream. */
export const MAX_PART_BYTES = 2 ** 31 - 1;

export const MessageKind = {
  /** worker → server, once at start: Python and mlserver versions. */
  HELLO: 1,
  LOAD: 2,
  UNLOAD: 3,
  INFER: 4,
  /** A successful reply to LOAD, UNLOAD or INFER. */
  OK: 5,
  /** A failed reply: head `{ message }` for the client, the traceback went to the worker's stderr. */
  ERROR: 6,
  /** server → worker: run one request through the model's `predict_stream`. */
  STREAM: 7,
  /** worker → server: one response of a stream; the stream ends with OK (or ERROR). */
  PART: 8,
  /** server → worker: stop the stream with this message id (the client went away). */
  CANCEL: 9,
  /**
   * worker → server, unasked (id 0): a custom metric from `mlserver.register` (head `{ op:
   * "register", name, description, key }`) or `mlserver.log` (`{ op: "observe", name, value, key }`),
   * `key` naming the model whose load or predict it ran in (null outside one).
   */
  METRIC: 10,
  /**
   * server → worker: an HTTP request for one of a model's custom REST handlers (MLServer's
   * `@custom_handler`, MLflow's `/invocations`): head `{ key, method, path, query, headers }`,
   * body the raw request body; the reply's head is `{ status, headers }`, its body the response's.
   */
  HTTP: 11,
} as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

/** One decoded frame. */
export interface Frame {
  readonly kind: MessageKind;
  readonly id: number;
  readonly head: unknown;
  readonly body: Uint8Array;
}

/** Encodes one frame; `body` parts are written one after another. */
export function encodeFrame(
  kind: MessageKind,
  id: number,
  head: unknown,
  body: readonly Uint8Array[] = [],
): Buffer {
  const headBytes = Buffer.from(JSON.stringify(head), 'utf8');
  const bodyLength = body.reduce((n, part) => n + part.byteLength, 0);
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt8(kind, 4);
  header.writeUInt32LE(id >>> 0, 8);
  header.writeUInt32LE(headBytes.byteLength, 12);
  header.writeUInt32LE(bodyLength, 16);
  return Buffer.concat([
    header,
    headBytes,
    ...body.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)),
  ]);
}

/** A stream that is not frames (bad magic, unknown kind, unreadable head). */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

const KINDS = new Set<number>(Object.values(MessageKind));

/**
 * Splits a byte stream into frames, whatever the chunking: `push` each chunk and get the frames it
 * completed. Throws {@link FrameError} on a corrupt stream (the worker is then restarted).
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /**
   * Bytes the frame being received needs in all, once its header was read: until that many are
   * buffered, chunks are only kept, not joined, so a large tensor arriving in many socket reads
   * is copied once, not once per read (joining on every read is quadratic in the frame size).
   */
  #needed = HEADER_BYTES;

  push(chunk: Buffer): Frame[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    const frames: Frame[] = [];
    for (;;) {
      if (this.#buffered < this.#needed) return frames;
      const [first] = this.#chunks;
      const all =
        this.#chunks.length === 1 && first !== undefined ? first : Buffer.concat(this.#chunks);
      this.#chunks = [all];
      if (all.readUInt32LE(0) !== MAGIC) throw new FrameError('bad frame magic');
      const kind = all.readUInt8(4);
      if (!KINDS.has(kind)) throw new FrameError(`unknown frame kind ${String(kind)}`);
      const id = all.readUInt32LE(8);
      const headLength = all.readUInt32LE(12);
      const bodyLength = all.readUInt32LE(16);
      if (headLength > MAX_PART_BYTES || bodyLength > MAX_PART_BYTES) {
        throw new FrameError('frame too large');
      }
      const total = HEADER_BYTES + headLength + bodyLength;
      if (all.byteLength < total) {
        this.#needed = total;
        return frames;
      }
      let head: unknown;
      try {
        head = JSON.parse(all.toString('utf8', HEADER_BYTES, HEADER_BYTES + headLength));
      } catch {
        throw new FrameError('frame head is not JSON');
      }
      // A copy, so the body owns aligned memory that typed arrays can view.
      const body = new Uint8Array(bodyLength);
      body.set(all.subarray(HEADER_BYTES + headLength, total));
      frames.push({ kind: kind as MessageKind, id, head, body });
      const rest = all.subarray(total);
      this.#chunks = rest.byteLength === 0 ? [] : [rest];
      this.#buffered = rest.byteLength;
      this.#needed = HEADER_BYTES;
    }
  }
}

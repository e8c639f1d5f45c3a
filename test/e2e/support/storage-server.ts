// A plain HTTP artefact store on loopback for e2e tests: serves files from a folder, answers 404
// for what is not there, and can hold chosen paths open (a stalled transfer) until released.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';

export interface StorageServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Puts a copy of `file` at `path` (e.g. `iris/v1/model.onnx`). */
  put(path: string, file: string): Promise<void>;
  /** Requests for `path` get headers and the first bytes, then nothing until released. */
  stall(path: string): void;
  /** Ends every stalled response with an error (the transfer breaks). */
  releaseStalls(): void;
  /** Paths requested so far, in order. */
  readonly requests: string[];
  stop(): Promise<void>;
}

export async function startStorageServer(): Promise<StorageServer> {
  const root = await mkdtemp(join(tmpdir(), 'tessera-e2e-storage-'));
  const stalled = new Set<string>();
  const held: ServerResponse[] = [];
  const requests: string[] = [];
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    requests.push(path);
    if (stalled.has(path.replace(/^\/+/, ''))) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 1 << 20 });
      res.write(Buffer.alloc(16));
      held.push(res);
      return;
    }
    const file = join(root, path);
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile() !== true) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': info.size,
    });
    createReadStream(file).pipe(res);
  };
  const server = createServer((req, res) => {
    serve(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async put(path, file) {
      const target = join(root, path);
      await mkdir(dirname(target), { recursive: true });
      await copyFile(file, target);
    },
    stall(path) {
      stalled.add(path);
    },
    releaseStalls() {
      stalled.clear();
      for (const res of held.splice(0)) res.destroy();
    },
    async stop() {
      for (const res of held.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      await rm(root, { recursive: true, force: true });
    },
  };
}

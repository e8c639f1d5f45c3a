// Starts fake-gcs-server (peer test/peers/fake-gcs.peer.mjs) on a free loopback port, plain HTTP,
// with the filesystem backend in a temp folder, and sets up buckets and objects through its own
// JSON API (buckets.insert, a media upload). `objectFile` is where the backend keeps an object's
// bytes: a test that rewrites it simulates corruption at rest (metadata keeps the original md5).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './free-port.js';

export interface FakeGcsServer {
  /** `http://127.0.0.1:<port>`, for GCS_ENDPOINT. */
  readonly endpoint: string;
  createBucket(name: string): Promise<void>;
  upload(bucket: string, name: string, body: Buffer): Promise<void>;
  /** The backend's file holding an object's bytes. */
  objectFile(bucket: string, name: string): string;
  stop(): Promise<void>;
}

async function ok(response: Promise<Response>, what: string): Promise<void> {
  const result = await response;
  if (!result.ok) throw new Error(`fake-gcs-server: ${what}: HTTP ${result.status}`);
}

export async function startFakeGcs(): Promise<FakeGcsServer> {
  const binary = process.env['TESSERA_FAKE_GCS_SERVER'];
  if (binary === undefined) {
    throw new Error(
      'TESSERA_FAKE_GCS_SERVER is not set: run the tests through scripts/run-tests.mjs',
    );
  }
  const root = await mkdtemp(join(tmpdir(), 'tessera-fake-gcs-'));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(
    binary,
    [
      ...['-scheme', 'http', '-host', '127.0.0.1', '-port', String(port)],
      ...['-backend', 'filesystem', '-filesystem-root', join(root, 'data')],
      ...['-external-url', endpoint, '-log-level', 'warn'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  // Ready when its JSON API answers (it prints nothing at -log-level warn).
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`fake-gcs-server exited:\n${output}`);
    const answered = await fetch(`${endpoint}/storage/v1/b`).then(
      (r) => r.ok,
      () => false,
    );
    if (answered) break;
    if (Date.now() > deadline) throw new Error(`fake-gcs-server did not start:\n${output}`);
    // A poll interval, not a wait for time to pass: the loop ends when the server answers.
    await delay(100);
  }
  return {
    endpoint,
    createBucket: (name) =>
      ok(
        fetch(`${endpoint}/storage/v1/b`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name }),
        }),
        `create bucket ${name}`,
      ),
    upload: (bucket, name, body) =>
      ok(
        fetch(
          `${endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`,
          {
            method: 'POST',
            headers: { 'content-type': 'application/octet-stream' },
            body: new Uint8Array(body),
          },
        ),
        `upload ${bucket}/${name}`,
      ),
    objectFile: (bucket, name) => join(root, 'data', bucket, ...name.split('/')),
    stop: async () => {
      child.kill('SIGTERM');
      // Escalation only: cleared as soon as the process exits on SIGTERM.
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
      await rm(root, { recursive: true, force: true });
    },
  };
}

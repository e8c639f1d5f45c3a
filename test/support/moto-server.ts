// Starts moto's S3-compatible server (peer test/peers/moto.peer.mjs) on a free loopback port.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import { freePort } from './free-port.js';

export interface MotoServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startMoto(env: Record<string, string> = {}): Promise<MotoServer> {
  const binary = process.env['TESSERA_MOTO_SERVER'];
  if (binary === undefined) {
    throw new Error('TESSERA_MOTO_SERVER is not set: run the tests through scripts/run-tests.mjs');
  }
  const port = await freePort();
  const child = spawn(binary, ['-H', '127.0.0.1', '-p', String(port)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`moto did not start:\n${output}`));
    }, 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Running on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`moto exited:\n${output}`));
    });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Creates a user with an S3 key through moto's IAM while moto still accepts unsigned setup (start
 * it with `INITIAL_NO_AUTH_ACTION_COUNT: '3'`: these three calls; every later request is signed).
 */
export async function createS3Key(endpoint: string): Promise<{ id: string; secret: string }> {
  const iam = new IAMClient({
    endpoint,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'setup', secretAccessKey: 'setup' },
  });
  await iam.send(new CreateUserCommand({ UserName: 'agent' }));
  const key = await iam.send(new CreateAccessKeyCommand({ UserName: 'agent' }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: 'agent',
      PolicyName: 's3',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
      }),
    }),
  );
  iam.destroy();
  const id = key.AccessKey?.AccessKeyId;
  const secret = key.AccessKey?.SecretAccessKey;
  assert.ok(id !== undefined && secret !== undefined);
  return { id, secret };
}

/** Creates `bucket` and uploads each `objectKey → local file`, signed with `key`. */
export async function createBucketWith(
  endpoint: string,
  key: { id: string; secret: string },
  bucket: string,
  objects: Record<string, string>,
): Promise<void> {
  const s3 = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: key.id, secretAccessKey: key.secret },
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const [objectKey, file] of Object.entries(objects)) {
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: objectKey, Body: await readFile(file) }),
      );
    }
  } finally {
    s3.destroy();
  }
}

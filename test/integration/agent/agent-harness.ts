// One pod, as the e2e harness lays it out but on this machine: a server with its admin port on
// loopback and required models unset, an agent beside it sharing a temp model volume, a
// credentials folder and an allowed root for local sources.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENV } from '@tessera/contract';
import { startAgentProcess, type AgentProcess } from '../../support/agent-process.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';
import {
  outputData,
  postJson,
  simpleRestRequest,
  versionedRestRequest,
  type HttpResult,
} from '../server/lifecycle-helpers.js';

export interface Pod {
  readonly server: ServerProcess;
  agent: AgentProcess;
  readonly modelDir: string;
  readonly credentialsDir: string;
  /** The storage-config Secret's folder: one JSON storage entry per file. */
  readonly storageConfigDir: string;
  readonly localRoot: string;
  restartAgent(env?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export async function startPod(agentEnv: Record<string, string> = {}): Promise<Pod> {
  const base = await mkdtemp(join(tmpdir(), 'tessera-pod-'));
  const modelDir = join(base, 'models');
  const credentialsDir = join(base, 'credentials');
  const localRoot = join(base, 'local');
  const storageConfigDir = join(base, 'storage-config');
  const { mkdir } = await import('node:fs/promises');
  for (const dir of [modelDir, credentialsDir, storageConfigDir, localRoot])
    await mkdir(dir, { recursive: true });
  const server = await startServer({
    folder: modelDir,
    env: { [ENV.adminPort]: '0', [ENV.loadModelsAtStartup]: 'false' },
  });
  const options = (env: Record<string, string>) => ({
    modelDir,
    credentialsDir,
    serverUrl: server.adminUrl ?? '',
    allowedRoots: [localRoot],
    env: {
      TESSERA_AGENT_STALL_TIMEOUT_MS: '1000',
      [ENV.agentStorageConfigDir]: storageConfigDir,
      ...agentEnv,
      ...env,
    },
  });
  const pod: Pod = {
    server,
    agent: await startAgentProcess(options({})),
    modelDir,
    credentialsDir,
    storageConfigDir,
    localRoot,
    restartAgent: async (env = {}) => {
      await pod.agent.stop();
      pod.agent = await startAgentProcess(options(env));
    },
    stop: async () => {
      await pod.agent.stop();
      await server.stop();
      await rm(base, { recursive: true, force: true });
    },
  };
  return pod;
}

/** The agent's load call, as the operator's RepositoryClient.loadFromStorage sends it. */
export function agentLoad(pod: Pod, model: string, parameters: object): Promise<HttpResult> {
  return postJson(`${pod.agent.url}/v2/repository/models/${model}/load`, { parameters });
}

export interface AgentEntry {
  name: string;
  state: string;
  reason: string;
  storage_uri?: string;
  pull?: { phase: string; storage_uri: string; bytes: number; message?: string };
}

export async function agentIndex(pod: Pod): Promise<AgentEntry[]> {
  const result = await postJson(`${pod.agent.url}/v2/repository/index`, {});
  if (result.status !== 200) throw new Error(`agent index: ${JSON.stringify(result.body)}`);
  return result.body as AgentEntry[];
}

/** One counter/gauge sample summed over series matching `labels`. */
export async function agentMetric(
  pod: Pod,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${pod.agent.url}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.includes('{')
      ? line.slice(line.indexOf('{') + 1, line.indexOf('}'))
      : '';
    if (wanted.every((w) => labelText.split(',').includes(w))) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

/** Writes Secret keys into the pod's credentials folder (the agent re-reads it on every pull). */
export async function writeCredentials(pod: Pod, files: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(files)) {
    await writeFile(join(pod.credentialsDir, name), value);
  }
}

/** Infers the `versioned` fixture (x + version) served as `model`. */
export async function inferVersioned(pod: Pod, model: string): Promise<number[]> {
  const result = await postJson(
    `${pod.server.httpUrl}/v2/models/${model}/infer`,
    versionedRestRequest([1, 2]),
  );
  assert.equal(result.status, 200, JSON.stringify(result.body));
  return outputData(result.body);
}

/** The message of an agent error answer. */
export function errorOf(result: { body: unknown }): string {
  return (result.body as { error: string }).error;
}

/** Asserts that `model` serves the `simple` example (OUTPUT0 = INPUT0 + INPUT1 = i + 2). */
export async function assertSimpleAnswers(pod: Pod, model: string): Promise<void> {
  const infer = await postJson(
    `${pod.server.httpUrl}/v2/models/${model}/infer`,
    simpleRestRequest(),
  );
  assert.equal(infer.status, 200, JSON.stringify(infer.body));
  assert.deepEqual(
    outputData(infer.body, 'OUTPUT0'),
    Array.from({ length: 16 }, (_, i) => i + 2),
  );
}

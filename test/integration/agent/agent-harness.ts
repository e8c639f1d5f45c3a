// One pod, as the e2e harness lays it out but on this machine: a server with its admin port on
// loopback and required models unset, an agent beside it sharing a temp model volume, a
// credentials folder and an allowed root for local sources.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENV } from '@tessera/contract';
import { startAgentProcess, type AgentProcess } from '../../support/agent-process.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';
import { postJson, type HttpResult } from '../server/lifecycle-helpers.js';

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

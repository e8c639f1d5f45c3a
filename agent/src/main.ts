/**
 * `tessera agent`: parses settings once, recovers state from the model volume, serves the agent
 * API on its own port (never the inference port) and stops on SIGTERM/SIGINT.
 */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { RepositoryClient } from '@tessera/contract';
import { Agent } from './agent.js';
import { buildAgentApp } from './app.js';
import { ArtefactStore } from './artefact-store.js';
import {
  AgentSettingsError,
  agentSettingsSchema,
  loadAgentSettings,
  type AgentSettings,
} from './config.js';
import { CredentialStore, Redactor } from './credentials.js';
import { createAgentLogger } from './logger.js';
import { AgentMetrics } from './metrics.js';
import { Puller } from './puller.js';

const USAGE = `Usage: tessera agent [--<setting> <value>]...

Pulls model artefacts onto the shared model volume and drives the server's repository API.
Settings (TESSERA_AGENT_* environment variables or flags): ${Object.keys(agentSettingsSchema.shape)
  .map((f) => `--${f.replaceAll('_', '-')}`)
  .join(', ')}.`;

/** A running agent. */
export interface RunningAgent {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the agent with parsed settings (tests embed it this way). */
export async function startAgent(settings: AgentSettings): Promise<RunningAgent> {
  const redactor = new Redactor();
  const logger = createAgentLogger(settings.log_level, redactor);
  const store = new ArtefactStore(settings.model_dir, settings.cache_bytes);
  const credentials = new CredentialStore(
    settings.credentials_dir,
    redactor,
    settings.storage_config_dir,
  );
  const metrics = new AgentMetrics();
  const server = new RepositoryClient(settings.server_url);
  const puller = new Puller({ settings, store, credentials });
  const agent = new Agent({ settings, store, puller, server, metrics, logger, redactor });
  await agent.init();
  const probe = `${settings.server_url.replace(/\/+$/, '')}/v2/health/live`;
  const app = buildAgentApp({
    agent,
    metrics,
    logger,
    serverReachable: () =>
      fetch(probe, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      ),
  });
  await app.listen({ host: settings.host, port: settings.port });
  const port = (app.server.address() as AddressInfo).port;
  logger.info({ port, model_dir: settings.model_dir }, 'Agent ready');
  return {
    port,
    close: () => {
      puller.abortAll();
      return app.close();
    },
  };
}

/** The `tessera agent` command; resolves with the exit code. */
export async function runAgent(argv: readonly string[]): Promise<number> {
  const options = Object.fromEntries(
    Object.keys(agentSettingsSchema.shape).map((f) => [
      f.replaceAll('_', '-'),
      { type: 'string' as const },
    ]),
  );
  let flags: Record<string, string>;
  try {
    const parsed = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
    });
    if (parsed.values['help'] === true) {
      console.log(USAGE);
      return 0;
    }
    const values = parsed.values as Record<string, unknown>;
    flags = {};
    for (const [flag, value] of Object.entries(values)) {
      if (typeof value === 'string') flags[flag] = value;
    }
  } catch (error) {
    console.error(`tessera agent: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  let settings: AgentSettings;
  try {
    settings = loadAgentSettings(undefined, flags);
  } catch (error) {
    if (error instanceof AgentSettingsError) {
      console.error(`tessera agent: ${error.message}`);
      return 1;
    }
    throw error;
  }
  const running = await startAgent(settings);
  return new Promise<number>((resolveExit) => {
    const stop = (): void => {
      running.close().then(
        () => {
          resolveExit(0);
        },
        () => {
          resolveExit(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

#!/usr/bin/env node
/**
 * `tessera start <folder>`: the counterpart of `mlserver start .`. Reads `<folder>/settings.json`
 * and the environment, serves every model under the folder, and shuts down cleanly on SIGTERM/SIGINT.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SettingsError, loadSettings, type Settings } from './config.js';
import { createLogger } from './observability/logger.js';
import { exampleRequest } from './core/example-request.js';
import { startServer, type RunningServer } from './server.js';

const USAGE = `Usage: tessera start <folder> [options]
       tessera agent [options]   (the model agent sidecar; tessera agent --help)

Serves every model (model-settings.json) found under <folder>, with MLServer's settings.json,
MLSERVER_* and TESSERA_* environment variables.

Options:
  --http-port <n>      REST port (default 8080)
  --grpc-port <n>      gRPC port (default 8081)
  --metrics-port <n>   Prometheus metrics port (default 8082)
  --host <address>     address to listen on (default 0.0.0.0)
  -h, --help           show this help
  -v, --version        show the version`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** A curl line that runs an inference on the first ready model, or lists the repository. */
function tryLine(server: RunningServer, base: string, adminBase: string | undefined): string {
  const index = `curl -s ${adminBase ?? base}/v2/repository/index -X POST -d '{}'`;
  const first = server.readyModels[0];
  if (first === undefined) return index;
  const example = exampleRequest(server.dataplane.modelMetadata(first));
  const body = example === undefined ? undefined : JSON.stringify(example);
  if (body === undefined || body.length > 2000) return index;
  return `curl -s ${base}/v2/models/${first}/infer -H 'Content-Type: application/json' -d '${body}'`;
}

/** The start banner: where each listener is, and a curl line to try. */
function banner(server: RunningServer, settings: Settings, folder: string): string {
  const host = settings.host === '0.0.0.0' ? 'localhost' : settings.host;
  const adminBase =
    server.ports.admin === null ? undefined : `http://${settings.admin_host}:${server.ports.admin}`;
  return [
    `Tessera is serving ${folder}`,
    `  REST     http://${host}:${server.ports.http}${settings.root_path}/v2`,
    `  gRPC     ${host}:${server.ports.grpc}`,
    adminBase === undefined ? '' : `  admin    ${adminBase}/v2/repository`,
    server.ports.metrics === null
      ? ''
      : `  metrics  http://${host}:${server.ports.metrics}${settings.metrics_endpoint ?? ''}`,
    `Try: ${tryLine(server, `http://${host}:${server.ports.http}${settings.root_path}`, adminBase)}`,
  ]
    .filter((l) => l !== '')
    .join('\n');
}

async function main(argv: string[]): Promise<number> {
  // `tessera agent` ships in the server image under its own entry point (the pod contract's
  // AGENT_ARGS); it shares no code with the server, only the contract.
  if (argv[0] === 'agent') {
    const { runAgent } = await import('@tessera/agent');
    return runAgent(argv.slice(1));
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'http-port': { type: 'string' },
      'grpc-port': { type: 'string' },
      'metrics-port': { type: 'string' },
      host: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  if (values.version === true) {
    console.log(version());
    return 0;
  }
  const [command, folder, ...rest] = positionals;
  if (command !== 'start' || folder === undefined || rest.length > 0) {
    console.error(USAGE);
    return 2;
  }
  const overrides: Record<string, string> = {};
  for (const key of ['http-port', 'grpc-port', 'metrics-port', 'host'] as const) {
    const value = values[key];
    if (value !== undefined) overrides[key.replaceAll('-', '_')] = value;
  }
  let settings: Settings;
  try {
    settings = loadSettings(undefined, {
      folder,
      values: { server_version: version(), ...overrides },
    });
  } catch (error) {
    if (error instanceof SettingsError) {
      console.error(`tessera: ${error.message}`);
      return 1;
    }
    throw error;
  }
  const logger = createLogger(settings);
  // Signals are handled from here on, also while models load: a SIGTERM that arrives during
  // start-up (a rollout replacing a pod that is still loading) shuts down once the server is up,
  // instead of killing the process with the default action.
  let received: string | undefined;
  let onSignal: ((signal: string) => void) | undefined;
  const handle = (signal: string): void => {
    if (onSignal !== undefined) onSignal(signal);
    else if (received === undefined) {
      received = signal;
      logger.info({ signal }, 'Received signal during start-up; shutting down once started');
    }
  };
  process.once('SIGTERM', () => {
    handle('SIGTERM');
  });
  process.once('SIGINT', () => {
    handle('SIGINT');
  });
  const server = await startServer(settings, logger);
  logger.info(
    { ports: server.ports, model_repository_root: settings.model_repository_root },
    'Server ready',
  );
  console.log(banner(server, settings, folder));
  return new Promise<number>((resolveExit) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'Received signal');
      const timer = setTimeout(
        () => {
          logger.error({}, 'Shutdown timed out; exiting');
          resolveExit(1);
        },
        (settings.shutdown_delay_seconds + settings.shutdown_timeout_seconds) * 1000,
      );
      timer.unref();
      server.shutdown().then(
        () => {
          resolveExit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'Shutdown failed');
          resolveExit(1);
        },
      );
    };
    if (received === undefined) onSignal = stop;
    else stop(received);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Exit explicitly: exporters and sockets must not keep a stopped server alive.
    setImmediate(() => process.exit(code));
  },
  (error: unknown) => {
    console.error(
      `tessera: failed to start: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  },
);

#!/usr/bin/env node
// Runs test tiers with Node's built-in runner.
//
// The files are collected here (rather than with `node --test` globs) so tiers stay folders. Tiers other
// than `unit` need real peers (a Python virtualenv with tritonclient, Go-built binaries, a
// control plane). Each peer is a module `test/peers/<name>.peer.mjs` exporting
//   provision(log): Promise<Record<string, string>>   build or reuse a cached artefact, return env
//   provisionLane?: string                           peers of one lane provision one after
//                                                     another, lanes side by side (provisionAll):
//                                                     'go' for Go builds, 'frameworks' for the
//                                                     multi-GB ML framework virtualenvs
//   start?(env, log): Promise<{ env?: Record<string,string>, stop(): Promise<void>,
//                               tier?(name): Promise<void> }>
//                                                     a service that lives for the whole run;
//                                                     tier() is called before each tier runs
// Tiers run one after another, each in its own `node --test` run, in the order given: the e2e
// tier needs controllers (the Deployment controller) that the integration tier must not have.
// Artefacts are cached outside the repository (see test/peers/cache.mjs), so a second run is quick.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

// npm puts node_modules/.bin first on PATH, so `npm test` runs on the Node that package.json pins
// (optionalDependencies node-linux-*), whatever the machine's own Node is.
const [nodeMajor] = process.versions.node.split('.').map(Number);
if ((nodeMajor ?? 0) < 24) {
  console.error(
    `Node ${process.versions.node} is too old: run the tests with \`npm test\` (it uses the Node 24 ` +
      'that package.json pins) or put Node 24+ on PATH.',
  );
  process.exit(2);
}

const tiers = process.argv.slice(2);
if (tiers.length === 0) {
  console.error('usage: run-tests.mjs <unit|integration|e2e>...');
  process.exit(2);
}

function collect(dir) {
  if (!existsSync(dir)) return [];
  // A tier may also name one folder or file below test/, e.g. `integration/operator/rbac.test.ts`.
  if (!statSync(dir).isDirectory()) return dir.endsWith('.test.ts') ? [dir] : [];
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (entry.endsWith('.test.ts')) out.push(path);
  }
  return out.sort();
}

function log(peer) {
  return (message) => console.log(`[peers:${peer}] ${message}`);
}

async function loadPeers() {
  const dir = 'test/peers';
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.peer.mjs'))
    .sort();
  const peers = [];
  for (const file of names) {
    const mod = await import(pathToFileURL(resolve(dir, file)).href);
    peers.push({ name: file.replace(/\.peer\.mjs$/, ''), mod });
  }
  return peers;
}

/**
 * Provisions every peer. Peers that compile Go (`export const provisionLane = 'go'`) build one
 * after another in one lane, everything else (pip, apt downloads) in another at the same time: a
 * Go build keeps both cores busy, so two at once gain nothing, while downloads and installs
 * overlap with it (a cold run's provisioning is mostly these two kinds). The virtualenvs with
 * torch and TensorFlow (`'frameworks'`: GBs to download and unpack, little to compute) have a lane
 * of their own, so they overlap with both instead of lengthening the pip lane.
 */
async function provisionAll(peers, env) {
  const lanes = new Map();
  for (const peer of peers) {
    const lane = peer.mod.provisionLane ?? 'default';
    lanes.set(lane, [...(lanes.get(lane) ?? []), peer]);
  }
  const results = await Promise.allSettled(
    [...lanes.values()].map(async (lane) => {
      const provided = [];
      for (const { name, mod } of lane) provided.push(await mod.provision(log(name)));
      return provided;
    }),
  );
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  for (const r of results) for (const provided of r.value) Object.assign(env, provided);
}

function runNodeTest(files, env) {
  const concurrency = process.env.TEST_CONCURRENCY ?? '2';
  const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files];
  return new Promise((resolveExit) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit', env });
    child.on('exit', (code, signal) => resolveExit(code ?? (signal ? 1 : 0)));
  });
}

/** Groups the arguments by tier (their first path segment), keeping the order given. */
function phases() {
  const byTier = new Map();
  for (const arg of tiers) {
    const tier = arg.split('/')[0];
    byTier.set(tier, [...(byTier.get(tier) ?? []), ...collect(join('test', arg))]);
  }
  return [...byTier].filter(([, files]) => files.length > 0);
}

async function main() {
  const groups = phases();
  if (groups.length === 0) {
    console.error(`no test files found for tiers: ${tiers.join(', ')}`);
    return 1;
  }
  const env = { ...process.env };
  const services = [];
  try {
    if (groups.some(([tier]) => tier !== 'unit')) {
      const peers = await loadPeers();
      await provisionAll(peers, env);
      for (const { name, mod } of peers) {
        if (typeof mod.start !== 'function') continue;
        const service = await mod.start(env, log(name));
        services.push({ name, service });
        Object.assign(env, service.env ?? {});
      }
    }
    let failed = 0;
    for (const [tier, files] of groups) {
      for (const { service } of services) await service.tier?.(tier);
      if (groups.length > 1) console.log(`# tier ${tier}: ${files.length} files`);
      const code = await runNodeTest(files, env);
      if (code !== 0) failed = code;
    }
    return failed;
  } finally {
    for (const { name, service } of services.reverse()) {
      await service.stop().catch((err) => console.error(`[peers:${name}] stop failed: ${err}`));
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`test run failed before the tests started: ${err?.message ?? err}`);
    process.exit(1);
  },
);

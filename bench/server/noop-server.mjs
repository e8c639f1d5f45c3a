#!/usr/bin/env node
// The ceiling of the front-end comparison (bench/server/front-end.mjs): fastify, the same version
// and defaults Tessera's REST adapter builds on, answering the benchmarked routes with fixed bodies
// of the same shape as Tessera's answers and doing no other work. Its JSON body parser still reads
// and parses every POST body, so the difference to Tessera is what Tessera does per request beyond
// HTTP and JSON: routing to a model, validation, the runtime, metrics, tracing, encoding.
//
//   node bench/server/noop-server.mjs <port> <answers.json>
//
// answers.json: { "<route url>": <body> } for GET routes and { "POST <route url>": <body> }.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// Tessera's own fastify, resolved from the server package.
const require = createRequire(join(here, '..', '..', 'server', 'package.json'));
const fastify = require('fastify');

const [port, answersFile] = process.argv.slice(2);
const answers = JSON.parse(readFileSync(answersFile, 'utf8'));
const app = fastify({ logger: false });
for (const [key, body] of Object.entries(answers)) {
  const [method, url] = key.startsWith('POST ') ? ['POST', key.slice(5)] : ['GET', key];
  app.route({ method, url, handler: () => Promise.resolve(body) });
}
await app.listen({ host: '127.0.0.1', port: Number(port) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));

// docs/errors.md and the error tables must agree (fastify's errors.md check).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { ErrorCode } from '../../../server/src/errors.js';
import { GRPC_STATUS } from '../../../server/src/transport/grpc/status.js';
import { HTTP_STATUS } from '../../../server/src/transport/http/error-mapping.js';

const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'errors.md'), 'utf8');
const rows = new Map(
  [...doc.matchAll(/^\| `(SRV_ERR_[A-Z_]+)` \| (\d+) \| ([A-Z_]+) \|/gm)].map((m) => [
    m[1],
    { http: Number(m[2]), grpc: m[3] },
  ]),
);

describe('docs/errors.md', () => {
  it('lists every error code, and no stale ones', () => {
    assert.deepEqual([...rows.keys()].sort(), Object.values(ErrorCode).sort());
  });

  it('states the HTTP and gRPC status each code maps to', () => {
    for (const code of Object.values(ErrorCode)) {
      const row = rows.get(code);
      assert.equal(row?.http, HTTP_STATUS[code], `${code} HTTP`);
      assert.equal(row?.grpc, status[GRPC_STATUS[code]], `${code} gRPC`);
    }
  });
});

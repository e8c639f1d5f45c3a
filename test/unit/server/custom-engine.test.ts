import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, ServerError } from '../../../server/src/errors.js';
import { open, type CustomOpenArgs } from '../../../server/src/runtime/custom/custom-engine.js';
import type { RuntimeRequest } from '../../../server/src/runtime-api.js';

/** Open arguments for a module given as source text (a data: URL, so no file is needed). */
function args(source: string, exportName?: string): CustomOpenArgs {
  return {
    module: `data:text/javascript,${encodeURIComponent(source)}`,
    implementation: './model.mjs',
    ...(exportName === undefined ? {} : { exportName }),
    settings: {
      name: 'm',
      implementation: './model.mjs',
      platform: '',
      folder: '/models/m',
      uri: '/models/m',
      inputs: [],
      outputs: [],
      extra: { greeting: 'hi' },
    },
  };
}

const request: RuntimeRequest = { id: 'r', parameters: {}, inputs: [] };
const ok = "{ outputs: [{ name: 'o', datatype: 'BYTES', shape: [1], data: ['x'] }] }";

describe('custom engine open', () => {
  it('picks the default export, a named one, or the only class', async () => {
    for (const [source, name] of [
      [`export default class A { load() {} predict() { return ${ok}; } }`, undefined],
      [`export class A { load() {} predict() { return ${ok}; } } export class B {}`, 'A'],
      [
        `export const x = 1; export class Only { load() {} predict() { return ${ok}; } }`,
        undefined,
      ],
    ] as const) {
      const engine = await open(args(source, name));
      assert.equal(engine.metadata.streams, false);
    }
  });

  it('passes the settings to load and refuses each broken class with a load error', async () => {
    const seen = await open(
      args(
        `export default class A { load(s) { if (s.extra.greeting !== 'hi') throw new Error('no settings'); } predict() { return ${ok}; } }`,
      ),
    );
    assert.ok(seen);
    const cases: [string, string | undefined, RegExp][] = [
      ['export const x = 1;', undefined, /exports no runtime class/],
      [
        'export class A {} export class B {}',
        undefined,
        /exports 2 classes; name one with '\.\/model\.mjs#ClassName'/,
      ],
      ['export default class A {}', 'Nope', /has no exported class 'Nope'/],
      ['export default class A { predict() {} }', undefined, /class A has no load\(\) method/],
      [
        'export default class A { load() {} predict() {} get unload() { return 3; } }',
        undefined,
        /unload must be a method/,
      ],
      [
        "export default class A { constructor() { throw new Error('x'); } }",
        undefined,
        /the constructor of A failed: x/,
      ],
      [
        "export default class A { load() { throw new Error('missing /models/m/w.bin'); } predict() {} }",
        undefined,
        /A\.load\(\) failed: missing <path>\/w\.bin/,
      ],
      [
        'export default class A { async load() { return false; } predict() {} }',
        undefined,
        /A\.load\(\) returned false/,
      ],
      ['export default class A {', undefined, /cannot import \.\/model\.mjs/],
    ];
    for (const [source, name, message] of cases) {
      await assert.rejects(open(args(source, name)), (error: unknown) => {
        assert.ok(error instanceof ServerError);
        assert.equal(error.code, ErrorCode.MODEL_LOAD_FAILED);
        assert.match(error.message, message);
        return true;
      });
    }
  });
});

describe('custom engine run and stream', () => {
  it('answers predict failures as data: 400 for InputError, 500 otherwise, naming the model', async () => {
    const engine = await open(
      args(`export default class A { load() {} predict(r) {
        if (r.id === 'input') { const e = new Error('bad mode'); e.name = 'InputError'; throw e; }
        if (r.id === 'throw') throw new Error('kaput');
        if (r.id === 'junk') return 7;
        return ${ok};
      } }`),
    );
    const answer = async (id: string) => engine.run({ ...request, id });
    const good = await answer('fine');
    assert.equal(good.ok, true);
    assert.deepEqual(await answer('input'), {
      ok: false,
      code: ErrorCode.INVALID_INPUT,
      message: "model 'm': bad mode",
    });
    assert.deepEqual(await answer('throw'), {
      ok: false,
      code: ErrorCode.INFERENCE_FAILED,
      message: "inference failed in model 'm': kaput",
    });
    const junk = await answer('junk');
    assert.equal(junk.ok, false);
    assert.match(junk.ok ? '' : junk.message, /model 'm' returned a malformed response/);
  });

  it("checks each streamed response and returns the runtime's iterator when stopped early", async () => {
    const engine = await open(
      args(`
      export default class A { load() {} predict() { return ${ok}; }
        async *predictStream() { try { for (let i = 0; ; i++) yield i === 2 ? 'junk' : ${ok}; } finally { globalThis.__closed = (globalThis.__closed ?? 0) + 1; } } }`),
    );
    assert.equal(engine.metadata.streams, true);
    const stream = engine.stream?.(request);
    assert.ok(stream);
    assert.equal((await stream.next()).done, false);
    await stream.return?.(undefined);
    assert.equal((globalThis as { __closed?: number }).__closed, 1);
    const again = engine.stream?.(request);
    assert.ok(again);
    await again.next();
    await again.next();
    await assert.rejects(again.next(), /model 'm' returned a malformed response/);
    assert.equal(
      (globalThis as { __closed?: number }).__closed,
      2,
      'a malformed item closes it too',
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonDepth, parseJson } from '../../../server/src/transport/http/body-parser.js';

describe('jsonDepth', () => {
  it('counts nesting outside strings only', () => {
    assert.equal(jsonDepth(Buffer.from('{"a":[1,[2]]}'), 100), 3);
    assert.equal(jsonDepth(Buffer.from('{"a":"[[[[\\"[["}'), 100), 1);
    assert.equal(jsonDepth(Buffer.from('3'), 100), 0);
  });

  it('stops early past the limit', () => {
    const deep = Buffer.from('['.repeat(10_000) + ']'.repeat(10_000));
    assert.equal(jsonDepth(deep, 100), 101);
  });
});

describe('parseJson', () => {
  it('parses within the limit and rejects deeper documents with a clear message', () => {
    assert.deepEqual(parseJson(Buffer.from('{"a":[[1]]}'), 3), { a: [[1]] });
    assert.throws(
      () => parseJson(Buffer.from('{"a":[[[1]]]}'), 3),
      /nests deeper than the limit of 3/,
    );
  });

  it('reports malformed JSON as invalid input and treats an empty body as {}', () => {
    assert.throws(() => parseJson(Buffer.from('{"a":'), 10), /malformed JSON body/);
    assert.deepEqual(parseJson(Buffer.alloc(0), 10), {});
  });

  it('takes NaN and ±Infinity as values, as Triton does, and nowhere else', () => {
    const parsed = parseJson(
      Buffer.from('{"data":[NaN, 1.5,-Infinity ,Infinity],"x":{"y": NaN},"s":"NaN, Infinity"}'),
      10,
    ) as { data: number[]; x: { y: number }; s: string };
    assert.deepEqual(parsed.data, [Number.NaN, 1.5, Number.NEGATIVE_INFINITY, Infinity]);
    assert.ok(Number.isNaN(parsed.x.y));
    // Inside strings the words stay text.
    assert.equal(parsed.s, 'NaN, Infinity');
    // Still malformed: a bare word that is not one of them, one in a key position, or a broken body.
    for (const bad of ['{"a":[Nan]}', '{NaN: 1}', '{"a":[NaN', '{"a":-NaN}', '[1 NaN]'])
      assert.throws(() => parseJson(Buffer.from(bad), 10), /malformed JSON body/, bad);
  });
});

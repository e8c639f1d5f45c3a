import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  placeModels,
  type PoolModel,
} from '../../../operator/src/reconcilers/placement/placement.js';
import { quantityToBytes } from '../../../operator/src/manifests/quantity.js';

const Mi = 2 ** 20;
const limits = { capacityBytes: 1024 * Mi, maxShards: 3 };

function model(
  name: string,
  mib: number,
  created = '2026-12-01T00:00:00Z',
  served = name,
): PoolModel {
  return { name, servedName: served, memoryBytes: mib * Mi, created };
}

describe('quantityToBytes', () => {
  it('reads binary, decimal, exponent and fractional quantities', () => {
    assert.equal(quantityToBytes('512Mi'), 512 * Mi);
    assert.equal(quantityToBytes('1.5Gi'), 1.5 * 1024 * Mi);
    assert.equal(quantityToBytes('1G'), 1e9);
    assert.equal(quantityToBytes('1e9'), 1e9);
    assert.equal(quantityToBytes('2048'), 2048);
    assert.equal(quantityToBytes('12 parsecs'), undefined);
  });
});

describe('placeModels', () => {
  it('packs models onto the first shard with room and opens a shard when it is full', () => {
    const p = placeModels(
      [model('a', 400, '1'), model('b', 400, '2'), model('c', 400, '3')],
      [],
      limits,
    );
    assert.deepEqual(p.shards, [
      { index: 0, models: ['a', 'b'] },
      { index: 1, models: ['c'] },
    ]);
    assert.equal(p.unplaced.size, 0);
  });

  it('keeps placed models where they are when others come and go', () => {
    const p = placeModels(
      [model('b', 400, '2'), model('c', 400, '3'), model('d', 200, '4')],
      [
        { index: 0, models: ['a', 'b'] },
        { index: 1, models: ['c'] },
      ],
      limits,
    );
    // a was deleted: b stays on 0, c on 1, and d fills the freed room on 0.
    assert.deepEqual(p.shards, [
      { index: 0, models: ['b', 'd'] },
      { index: 1, models: ['c'] },
    ]);
  });

  it('never puts two models served under one name on a shard', () => {
    const p = placeModels(
      [model('iris-a', 100, '1', 'iris'), model('iris-b', 100, '2', 'iris')],
      [],
      limits,
    );
    assert.deepEqual(p.shards, [
      { index: 0, models: ['iris-a'] },
      { index: 1, models: ['iris-b'] },
    ]);
  });

  it('explains a model larger than a server and a pool at its shard limit', () => {
    const p = placeModels(
      [
        model('huge', 2048, '1'),
        model('a', 1000, '2'),
        model('b', 1000, '3'),
        model('c', 1000, '4'),
        model('d', 1000, '5'),
      ],
      [],
      limits,
    );
    assert.match(
      p.unplaced.get('huge') ?? '',
      /declares 2 GiB of memory, more than the runtime's capacity of 1 GiB/,
    );
    assert.match(p.unplaced.get('d') ?? '', /the pool is full: all 3 servers/);
    assert.equal(p.shards.length, 3);
  });

  it('keeps an emptied shard (it scales to zero) and reuses it first', () => {
    const emptied = placeModels([], [{ index: 0, models: ['gone'] }], limits);
    assert.deepEqual(emptied.shards, [{ index: 0, models: [] }]);
    const reused = placeModels([model('new', 10)], emptied.shards, limits);
    assert.deepEqual(reused.shards, [{ index: 0, models: ['new'] }]);
  });

  it('is deterministic: the same input gives the same placement in any order', () => {
    const models = [model('x', 300, '1'), model('y', 300, '1'), model('z', 600, '2')];
    const a = placeModels(models, [], limits);
    const b = placeModels([...models].reverse(), [], limits);
    assert.deepEqual(a, b);
  });
});

describe('placeModels with the memory servers report', () => {
  const reporting = (name: string, declaredMib: number, reportedMib: number, created: string) => ({
    ...model(name, declaredMib, created),
    reportedBytes: reportedMib * Mi,
  });

  it('counts max(declared, reported): a model that declares 16Mi but holds 400Mi fills its shard', () => {
    const small = { capacityBytes: 400 * Mi, maxShards: 3 };
    // By declared memory alone, a and b (16Mi each) share one 400Mi server.
    const declaredOnly = placeModels([model('a', 16, '1'), model('b', 16, '2')], [], small);
    assert.deepEqual(declaredOnly.shards, [{ index: 0, models: ['a', 'b'] }]);
    // Once a's servers report 400Mi, b (placed afresh) overflows into a second shard.
    const p = placeModels([reporting('a', 16, 400, '1'), model('b', 16, '2')], [], small);
    assert.deepEqual(p.shards, [
      { index: 0, models: ['a'] },
      { index: 1, models: ['b'] },
    ]);
  });

  it('never lets a report shrink a model below what it declares', () => {
    const small = { capacityBytes: 512 * Mi, maxShards: 3 };
    const p = placeModels([reporting('a', 300, 1, '1'), model('b', 300, '2')], [], small);
    assert.equal(p.shards.length, 2);
  });

  it('moves the newest model off a shard that a report shows over capacity', () => {
    const small = { capacityBytes: 420 * Mi, maxShards: 3 };
    const p = placeModels(
      [reporting('a', 16, 400, '1'), model('b', 16, '2'), model('c', 16, '3')],
      [{ index: 0, models: ['a', 'b', 'c'] }],
      small,
    );
    // a (400Mi) + b (16Mi) still fit: the newest, c, moves, and b stays where it serves.
    assert.deepEqual(p.shards, [
      { index: 0, models: ['a', 'b'] },
      { index: 1, models: ['c'] },
    ]);
  });

  it('names the reported figure when it is what makes a model too large for a server', () => {
    const p = placeModels([reporting('big', 16, 2048, '1')], [], limits);
    assert.match(
      p.unplaced.get('big') ?? '',
      /holds 2 GiB of memory as its servers report \(it declares 16 MiB of memory\), more than the runtime's capacity of 1 GiB/,
    );
  });
});

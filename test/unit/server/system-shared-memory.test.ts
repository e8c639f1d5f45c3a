// The shared-memory region manager on a temporary folder standing in for /dev/shm (shm_open's
// objects are plain files there, so a folder of files is the same thing to the manager).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SystemSharedMemory } from '../../../server/src/core/system-shared-memory.js';
import type { InferenceRequest, Tensor } from '../../../server/src/core/types.js';
import { ServerError } from '../../../server/src/errors.js';

function fp32Request(region: string, offset: number, byteSize: number): InferenceRequest {
  return {
    inputs: [
      { name: 'x', datatype: 'FP32', shape: [2], data: { kind: 'shm', region, offset, byteSize } },
    ],
    outputs: [
      {
        name: 'y',
        parameters: {
          shared_memory_region: region,
          shared_memory_byte_size: 8,
          shared_memory_offset: 8,
        },
      },
    ],
  };
}

const rejects = (promise: Promise<unknown>, pattern: RegExp): Promise<void> =>
  assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ServerError, String(error));
    assert.match(error.message, pattern);
    return true;
  });

void describe('SystemSharedMemory', () => {
  let dir: string;
  let shm: SystemSharedMemory;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-shm-'));
    writeFileSync(join(dir, 'obj'), Buffer.from(new Float32Array([1.5, -2, 0, 0]).buffer));
    writeFileSync(join(dir, 'secret'), 'not yours');
    symlinkSync(join(dir, 'secret'), join(dir, 'link'));
    shm = new SystemSharedMemory({
      enabled: true,
      directory: dir,
      maxRegions: 2,
      maxTensorBytes: 1024,
    });
  });

  after(async () => {
    await shm.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('refuses keys that are not one POSIX shared-memory name', async () => {
    for (const key of ['/../secret', '/a/b', '/', '/..', '']) {
      await rejects(shm.register('r', key, 0, 4), /POSIX shared memory name/);
    }
  });

  void it('refuses symbolic links and objects that do not exist', async () => {
    await rejects(shm.register('r', '/link', 0, 4), /symbolic link/);
    await rejects(shm.register('r', '/missing', 0, 4), /does not exist/);
  });

  void it('refuses a region past the end of its object', async () => {
    await rejects(shm.register('r', '/obj', 8, 9), /past the end of '\/obj' \(16 bytes\)/);
  });

  void it('reads inputs and writes outputs at the registered offsets', async () => {
    await shm.register('r', '/obj', 0, 16);
    const use = await shm.prepare(fp32Request('r', 0, 8));
    const input = use.request.inputs[0]?.data;
    assert.equal(input?.kind, 'raw');
    assert.deepEqual(
      [...new Float32Array(Uint8Array.from((input as { bytes: Uint8Array }).bytes).buffer)],
      [1.5, -2],
    );
    const output: Tensor = {
      name: 'y',
      datatype: 'FP32',
      shape: [2],
      data: new Float32Array([7, 8]),
    };
    const [placed] = await use.place([output]);
    use.release();
    assert.deepEqual(placed?.sharedMemory, { region: 'r', offset: 8, byteSize: 8 });
    const bytes = readFileSync(join(dir, 'obj'));
    assert.deepEqual([...new Float32Array(bytes.buffer, bytes.byteOffset + 8, 2)], [7, 8]);
    await shm.unregister('r');
  });

  void it('checks offsets, byte sizes and output sizes against the region', async () => {
    await shm.register('r', '/obj', 0, 16);
    await rejects(shm.prepare(fp32Request('r', 12, 8)), /Invalid offset \+ byte size/);
    await rejects(
      shm.prepare(fp32Request('r', 0, 4)),
      /shared_memory_byte_size is 4 but shape \[2\] of FP32 takes 8/,
    );
    await rejects(
      shm.prepare(fp32Request('nope', 0, 8)),
      /Unable to find shared memory region: 'nope'/,
    );
    const use = await shm.prepare(fp32Request('r', 0, 8));
    const big: Tensor = { name: 'y', datatype: 'FP32', shape: [3], data: new Float32Array(3) };
    await rejects(use.place([big]), /should be at least 12 bytes/);
    use.release();
    await shm.unregister();
  });

  void it('keeps an unregistered region open for the request that leased it', async () => {
    await shm.register('r', '/obj', 0, 16);
    const use = await shm.prepare(fp32Request('r', 0, 8));
    await shm.unregister('r');
    assert.deepEqual(shm.status(), []);
    const output: Tensor = {
      name: 'y',
      datatype: 'FP32',
      shape: [2],
      data: new Float32Array([3, 4]),
    };
    const [placed] = await use.place([output]);
    assert.equal(placed?.sharedMemory?.byteSize, 8);
    use.release();
    await rejects(shm.prepare(fp32Request('r', 0, 8)), /Unable to find shared memory region/);
  });

  void it('bounds the number of regions and refuses a name twice', async () => {
    await shm.register('a', '/obj', 0, 4);
    await rejects(shm.register('a', '/obj', 0, 4), /already in manager/);
    await shm.register('b', '/obj', 4, 4);
    await rejects(shm.register('c', '/obj', 8, 4), /2 regions are registered already/);
    assert.deepEqual(
      shm.status().map((r) => r.name),
      ['a', 'b'],
    );
    assert.throws(() => shm.status('c'), /Unable to find system shared memory region: 'c'/);
    await shm.unregister();
  });

  void it('refuses everything when disabled, naming the setting', async () => {
    const off = new SystemSharedMemory({
      enabled: false,
      directory: dir,
      maxRegions: 1,
      maxTensorBytes: 1,
    });
    await rejects(off.register('r', '/obj', 0, 4), /allow_client_shm/);
    assert.throws(() => off.status(), /allow_client_shm/);
    await rejects(off.prepare(fp32Request('r', 0, 8)), /allow_client_shm/);
  });
});

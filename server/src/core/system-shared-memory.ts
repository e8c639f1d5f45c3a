/**
 * Triton's system shared-memory extension (extension_shared_memory.md): a client in the same host
 * (the same pod) registers a POSIX shared-memory object, then names it in an input's or a requested
 * output's parameters (`shared_memory_region`, `shared_memory_byte_size`, `shared_memory_offset`),
 * and the tensor's bytes move through that memory instead of the socket.
 *
 * On Linux, `shm_open("/key")` is the file `/dev/shm/key` (glibc's shm_open opens it in the
 * tmpfs mounted there), so the server reads and writes regions through one file descriptor per
 * registration: no native addon, and nothing outside the directory can be named (the key must be
 * one path segment, and symbolic links are refused). Every offset and size is checked against the
 * registration, and the registration against the object's size, before any byte moves.
 *
 * Off by default, as in Triton ≥ 2.59 (`--allow-client-shm`): registration lets a client make the
 * server read and write memory objects of its host, which only a co-located client should do.
 */
import { readSync, writeSync } from 'node:fs';
import { constants, type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, ServerError, invalidInput, shorten } from '../errors.js';
import { ELEMENT_SIZE, isDatatype } from './datatype.js';
import type { InferenceRequest, Parameters, RequestInput, Tensor } from './types.js';
import { toRawBytes } from './tensor-encode.js';

/** A registered region as the status endpoints report it (Triton's field names). */
export interface SharedMemoryRegionStatus {
  readonly name: string;
  readonly key: string;
  readonly offset: number;
  readonly byte_size: number;
}

/** Where a tensor lies in a registered region. */
export interface SharedMemoryPlace {
  readonly region: string;
  readonly offset: number;
  readonly byteSize: number;
}

export interface SystemSharedMemoryOptions {
  /** `allow_client_shm`: when false every call answers SRV_ERR_UNSUPPORTED. */
  readonly enabled: boolean;
  /** The folder shm_open names live in (`/dev/shm` on Linux). */
  readonly directory: string;
  /** At most this many regions at once. */
  readonly maxRegions: number;
  /** At most this many bytes read for one input (the REST body limit). */
  readonly maxTensorBytes: number;
}

interface Region {
  readonly status: SharedMemoryRegionStatus;
  readonly handle: FileHandle;
  /** Requests using the region; an unregistered region closes when the last one finishes. */
  leases: number;
  unregistered: boolean;
}

interface LeasedPlace {
  readonly place: SharedMemoryPlace;
  readonly region: Region;
}

/** The regions one request uses, leased for its whole duration. */
export interface SharedMemoryUse {
  /** The request with shared-memory inputs replaced by their bytes. */
  readonly request: InferenceRequest;
  /** Writes outputs requested in shared memory and marks them so adapters send no data. */
  place(outputs: readonly Tensor[]): Promise<Tensor[]>;
  release(): void;
}

/** Region names: 1 to 256 characters, none of them a control character. */
function isRegionName(name: string): boolean {
  if (name.length === 0 || name.length > 256) return false;
  for (let i = 0; i < name.length; i += 1) {
    const code = name.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return false;
  }
  return true;
}

/**
 * The file name of a POSIX shared-memory name: an optional leading `/`, then 1 to 255 characters
 * with no `/` and no NUL (shm_open(3)); undefined when it is not one.
 */
function shmSegment(key: string): string | undefined {
  const segment = key.startsWith('/') ? key.slice(1) : key;
  if (segment.length === 0 || segment.length > 255) return undefined;
  if (segment.includes('/') || segment.includes('\0') || segment === '.' || segment === '..') {
    return undefined;
  }
  return segment;
}

const disabled = (): ServerError =>
  new ServerError(
    ErrorCode.UNSUPPORTED,
    'client shared memory is disabled on this server: enable it with the setting allow_client_shm (TESSERA_ALLOW_CLIENT_SHM=true or --allow-client-shm true)',
  );

/** The registered system shared-memory regions of one server. */
export class SystemSharedMemory {
  readonly #options: SystemSharedMemoryOptions;
  readonly #regions = new Map<string, Region>();

  constructor(options: SystemSharedMemoryOptions) {
    this.#options = options;
  }

  get enabled(): boolean {
    return this.#options.enabled;
  }

  /** Registers `byteSize` bytes at `offset` of the object `key` under `name`. */
  async register(name: string, key: string, offset: number, byteSize: number): Promise<void> {
    if (!this.#options.enabled) throw disabled();
    if (!isRegionName(name)) {
      throw invalidInput(
        'shared memory region name must be 1 to 256 characters without control characters',
      );
    }
    const segment = shmSegment(key);
    if (segment === undefined) {
      throw invalidInput(
        `invalid shared memory key '${shorten(key)}': a POSIX shared memory name is '/' followed by up to 255 characters other than '/'`,
      );
    }
    checkCount('offset', offset);
    checkCount('byte_size', byteSize);
    if (this.#regions.has(name)) {
      throw invalidInput(`shared memory region '${shorten(name)}' already in manager`);
    }
    if (this.#regions.size >= this.#options.maxRegions) {
      throw invalidInput(
        `cannot register shared memory region '${shorten(name)}': ${this.#options.maxRegions} regions are registered already; unregister one first`,
      );
    }
    const handle = await openObject(this.#options.directory, segment, key);
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) {
        throw invalidInput(
          `Unable to open shared memory region: '${shorten(key)}': not a memory object`,
        );
      }
      if (offset + byteSize > stat.size) {
        throw invalidInput(
          `shared memory region '${shorten(name)}': offset ${offset} + byte_size ${byteSize} is past the end of '${shorten(key)}' (${stat.size} bytes)`,
        );
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
    // Checked again after the await: a concurrent registration of the same name wins once.
    if (this.#regions.has(name)) {
      await handle.close();
      throw invalidInput(`shared memory region '${shorten(name)}' already in manager`);
    }
    this.#regions.set(name, {
      status: { name, key, offset, byte_size: byteSize },
      handle,
      leases: 0,
      unregistered: false,
    });
  }

  /** Unregisters one region, or every region when `name` is absent or empty. */
  async unregister(name?: string): Promise<void> {
    if (!this.#options.enabled) throw disabled();
    const names = name === undefined || name === '' ? [...this.#regions.keys()] : [name];
    // Triton answers success for a name it does not know (SharedMemoryManager::Unregister).
    const closing: Promise<void>[] = [];
    for (const regionName of names) {
      const region = this.#regions.get(regionName);
      if (region === undefined) continue;
      this.#regions.delete(regionName);
      region.unregistered = true;
      if (region.leases === 0) closing.push(region.handle.close());
    }
    await Promise.all(closing);
  }

  /** Status of one region (error when unknown) or of all. */
  status(name?: string): SharedMemoryRegionStatus[] {
    if (!this.#options.enabled) throw disabled();
    if (name === undefined || name === '') return [...this.#regions.values()].map((r) => r.status);
    const region = this.#regions.get(name);
    if (region === undefined) {
      throw invalidInput(`Unable to find system shared memory region: '${shorten(name)}'`);
    }
    return [region.status];
  }

  /** Closes every region (shutdown). */
  async close(): Promise<void> {
    const regions = [...this.#regions.values()];
    this.#regions.clear();
    await Promise.all(regions.map((r) => r.handle.close()));
  }

  /**
   * Whether a request names shared memory at all: checked synchronously, so requests that do
   * not (nearly all) pay no promise and no lookup.
   */
  static uses(request: InferenceRequest): boolean {
    for (const input of request.inputs) if (input.data.kind === 'shm') return true;
    for (const output of request.outputs ?? []) {
      if (output.parameters?.['shared_memory_region'] !== undefined) return true;
    }
    return false;
  }

  /**
   * Checks every shared-memory reference of a request against its region, leases the regions,
   * and reads the inputs. Outputs are checked here too, so a bad output reference fails before
   * the model runs.
   */
  async prepare(request: InferenceRequest): Promise<SharedMemoryUse> {
    if (!this.#options.enabled) throw disabled();
    const leased: Region[] = [];
    const release = (): void => {
      for (const region of leased.splice(0)) this.#unlease(region);
    };
    try {
      const outputPlaces = new Map<string, LeasedPlace>();
      for (const output of request.outputs ?? []) {
        const place = placeOf(`output '${shorten(output.name)}'`, output.parameters);
        if (place === undefined) continue;
        const region = this.#lease(place);
        leased.push(region);
        outputPlaces.set(output.name, { place, region });
      }
      const inputs: RequestInput[] = [];
      for (const input of request.inputs) {
        if (input.data.kind !== 'shm') {
          inputs.push(input);
          continue;
        }
        const place = input.data;
        this.#checkInputSize(input, place.byteSize);
        const region = this.#lease(place);
        leased.push(region);
        const bytes = Buffer.allocUnsafe(place.byteSize);
        const bytesRead = await readAt(region.handle, bytes, region.status.offset + place.offset);
        if (bytesRead !== place.byteSize) {
          throw invalidInput(
            `input '${shorten(input.name)}': shared memory region '${shorten(place.region)}' holds fewer bytes than registered (the object shrank)`,
          );
        }
        inputs.push({ ...input, data: { kind: 'raw', bytes } });
      }
      return {
        request: { ...request, inputs },
        place: (outputs) => this.#place(outputs, outputPlaces),
        release,
      };
    } catch (error) {
      release();
      throw error;
    }
  }

  async #place(
    outputs: readonly Tensor[],
    places: ReadonlyMap<string, LeasedPlace>,
  ): Promise<Tensor[]> {
    if (places.size === 0) return [...outputs];
    const placed: Tensor[] = [];
    for (const tensor of outputs) {
      const leased = places.get(tensor.name);
      if (leased === undefined) {
        placed.push(tensor);
        continue;
      }
      // The leased region, even if it was unregistered meanwhile: it stays open until released.
      const { place, region } = leased;
      const bytes = toRawBytes(tensor);
      if (bytes.byteLength > place.byteSize) {
        throw invalidInput(
          `shared memory size specified with the request for output '${shorten(tensor.name)}' (${place.byteSize} bytes) should be at least ${bytes.byteLength} bytes to hold the results`,
        );
      }
      await writeAt(region.handle, bytes, region.status.offset + place.offset);
      placed.push({
        ...tensor,
        sharedMemory: { region: place.region, offset: place.offset, byteSize: bytes.byteLength },
      });
    }
    return placed;
  }

  /** A fixed-size datatype's input must fill exactly its shape; any input stays within bounds. */
  #checkInputSize(input: RequestInput, byteSize: number): void {
    const name = shorten(input.name);
    if (byteSize > this.#options.maxTensorBytes) {
      throw new ServerError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `input '${name}': shared_memory_byte_size ${byteSize} is more than the limit of ${this.#options.maxTensorBytes} bytes (max_body_bytes)`,
      );
    }
    const size = isDatatype(input.datatype) ? ELEMENT_SIZE[input.datatype] : 0;
    if (size === 0 || !input.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      return;
    }
    const expected = (input.shape as number[]).reduce((a, b) => a * b, size);
    if (expected !== byteSize) {
      throw invalidInput(
        `input '${name}': shared_memory_byte_size is ${byteSize} but shape [${input.shape.join(',')}] of ${input.datatype} takes ${expected} bytes`,
      );
    }
  }

  #lease(place: SharedMemoryPlace): Region {
    const region = this.#regions.get(place.region);
    if (region === undefined) {
      throw invalidInput(`Unable to find shared memory region: '${shorten(place.region)}'`);
    }
    if (place.offset + place.byteSize > region.status.byte_size) {
      throw invalidInput(
        `Invalid offset + byte size for shared memory region: '${shorten(place.region)}' (offset ${place.offset} + byte size ${place.byteSize} > ${region.status.byte_size})`,
      );
    }
    region.leases += 1;
    return region;
  }

  #unlease(region: Region): void {
    region.leases -= 1;
    if (region.leases === 0 && region.unregistered) void region.handle.close().catch(() => {});
  }
}

/**
 * The shared-memory place a tensor's parameters name, or undefined. Region and byte size are
 * required together, the offset is optional (extension_shared_memory.md).
 */
export function placeOf(
  what: string,
  parameters: Parameters | undefined,
): SharedMemoryPlace | undefined {
  const region = parameters?.['shared_memory_region'];
  const byteSize = parameters?.['shared_memory_byte_size'];
  const offset = parameters?.['shared_memory_offset'] ?? 0;
  if (region === undefined && byteSize === undefined) return undefined;
  if (typeof region !== 'string' || region === '') {
    throw invalidInput(
      `${what}: shared_memory_byte_size needs shared_memory_region (a region name)`,
    );
  }
  if (byteSize === undefined) {
    throw invalidInput(`${what}: shared_memory_region needs shared_memory_byte_size`);
  }
  checkCount(`${what}: shared_memory_byte_size`, byteSize);
  checkCount(`${what}: shared_memory_offset`, offset);
  return { region, offset, byteSize };
}

function checkCount(what: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidInput(`${what} must be a non-negative integer`);
  }
}

/**
 * Copies up to this many bytes between a region and a tensor on the event loop. A shared-memory
 * object lives in tmpfs, so a read or write is a memory copy: measured on /dev/shm, FileHandle's
 * threadpool round trip took 66 µs for 64 bytes and 98 µs for 64 KiB, a synchronous call 2 µs and
 * 7 µs (75 µs for 1 MiB). Larger copies stay on the threadpool, off the event loop.
 */
const COPY_ON_LOOP_MAX_BYTES = 1 << 20;

async function readAt(handle: FileHandle, bytes: Buffer, position: number): Promise<number> {
  if (bytes.byteLength <= COPY_ON_LOOP_MAX_BYTES) {
    return readSync(handle.fd, bytes, 0, bytes.byteLength, position);
  }
  return (await handle.read(bytes, 0, bytes.byteLength, position)).bytesRead;
}

async function writeAt(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  if (bytes.byteLength <= COPY_ON_LOOP_MAX_BYTES) {
    let written = 0;
    while (written < bytes.byteLength) {
      written += writeSync(
        handle.fd,
        bytes,
        written,
        bytes.byteLength - written,
        position + written,
      );
    }
    return;
  }
  await handle.write(bytes, 0, bytes.byteLength, position);
}

async function openObject(directory: string, segment: string, key: string): Promise<FileHandle> {
  try {
    // O_NOFOLLOW: a link in the shm folder must not lead the server to another file.
    return await open(join(directory, segment), constants.O_RDWR | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'it does not exist (create it with shm_open before registering)'
        : code === 'EACCES' || code === 'EPERM'
          ? 'the server may not read and write it'
          : code === 'ELOOP'
            ? 'it is a symbolic link'
            : 'it cannot be opened';
    throw invalidInput(`Unable to open shared memory region: '${shorten(key)}': ${why}`);
  }
}

// Builds tar.gz and zip archives for tests, including hostile ones (traversal, links, bombs)
// that no well-behaved archiver would write. tar via tar-stream's packer; zip by hand (a few
// headers), since the point is to write entries real tools refuse to create.
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';

export interface TarEntry {
  name: string;
  content?: Buffer;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  linkname?: string;
  /** Permission bits (tar-stream's default otherwise). */
  mode?: number;
}

export async function tarGz(entries: readonly TarEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve) =>
    pack.on('end', () => {
      resolve();
    }),
  );
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: entry.name,
        type,
        ...(entry.linkname === undefined ? {} : { linkname: entry.linkname }),
        ...(entry.mode === undefined ? {} : { mode: entry.mode }),
      };
      pack.entry(header, entry.content ?? Buffer.alloc(0), (e) => {
        if (e) reject(e);
        else resolve();
      });
    });
  }
  pack.finalize();
  await ended;
  return gzipSync(Buffer.concat(chunks));
}

export interface ZipEntry {
  name: string;
  content: Buffer;
  /** Unix mode with file type bits (e.g. 0o120777 for a symlink). */
  mode?: number;
  deflate?: boolean;
}

/** A minimal zip writer (stored or deflated entries, no zip64). */
export function zip(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name);
    const data = entry.deflate === true ? deflateRawSync(entry.content) : entry.content;
    const crc = crc32(entry.content);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(entry.deflate === true ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(entry.content.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x0314, 4); // made by Unix, so the mode bits count
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(entry.deflate === true ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(entry.content.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((entry.mode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const centralDir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralDir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralDir, end]);
}

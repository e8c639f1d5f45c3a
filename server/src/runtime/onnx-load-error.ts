/**
 * Load failures of ONNX models in the user's terms. onnxruntime's own messages name the absolute
 * file, the C++ source file and line, and a C++ signature (`Load model from /srv/m/model.onnx
 * failed:/onnxruntime_src/…/model.cc:187 onnxruntime::Model::Model(…) ModelProto does not have a
 * graph.`); clients must see what is wrong with *their* file instead (reliability-catalogue §3.6).
 * The file is checked before onnxruntime sees it, so the common mistakes (an empty file, a file
 * that is not a model at all) get a precise message, and onnxruntime's remaining messages are
 * translated or stripped down to their last, human sentence.
 */
import { open } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { ErrorCode, ServerError, getErrorMessage, redactPaths } from '../errors.js';
import {
  FILE_TYPES,
  modelFileType,
  sklearnConversion,
  type ModelFileType,
} from './model-file-type.js';

/** The ORT format (a flatbuffer) carries this identifier at byte 4 (onnxruntime ort_format). */
const ORT_FORMAT_ID = 'ORTM';

/** Field numbers of onnx.ModelProto (onnx/onnx.proto); a serialized model starts with one. */
const MODEL_PROTO_FIELDS = new Set([1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25]);

const loadFailed = (source: string, message: string): ServerError =>
  new ServerError(ErrorCode.MODEL_LOAD_FAILED, `${source}: ${message}`);

/**
 * Refuses files that cannot be a model before onnxruntime parses them. `source` is the
 * model-settings.json the model comes from, as messages name it (relative to the repository).
 */
export async function checkOnnxFile(file: string, source: string): Promise<void> {
  const name = basename(file);
  const head = Buffer.alloc(64);
  let size: number;
  let read: number;
  try {
    const handle = await open(file, 'r');
    try {
      size = (await handle.stat()).size;
      ({ bytesRead: read } = await handle.read(head, 0, head.length, 0));
    } finally {
      await handle.close();
    }
  } catch {
    throw loadFailed(source, `${name} cannot be read (check its permissions)`);
  }
  if (size === 0) throw loadFailed(source, `${name} is empty`);
  if (read >= 8 && head.toString('latin1', 4, 8) === ORT_FORMAT_ID) return;
  if (!startsLikeModelProto(head.subarray(0, read))) {
    throw loadFailed(source, notOnnx(name, modelFileType(head.subarray(0, read))));
  }
}

/** Why a file that is not ONNX cannot be served, naming what it is and what reads it. */
function notOnnx(name: string, kind: ModelFileType): string {
  const { label, readBy } = FILE_TYPES[kind];
  if (kind === 'pickle') {
    return `${name} is ${label}, not an ONNX file: a pickled scikit-learn model cannot run in Node. ${sklearnConversion(name)}`;
  }
  if (readBy !== undefined && readBy !== 'onnx') {
    return `${name} is ${label}, not an ONNX file; it is read by the '${readBy}' implementation`;
  }
  return `${name} is not an ONNX file (it does not start like an ONNX model)`;
}

/**
 * A serialized protobuf message starts with a field key: a varint `field << 3 | wire type`. Every
 * ONNX exporter writes ModelProto fields in field order, so the first is one of ModelProto's.
 */
function startsLikeModelProto(head: Uint8Array): boolean {
  let key = 0;
  for (let i = 0; i < Math.min(head.length, 2); i++) {
    const byte = head[i] ?? 0;
    key |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) === 0) {
      const wireType = key & 7;
      return MODEL_PROTO_FIELDS.has(key >> 3) && (wireType === 0 || wireType === 2);
    }
  }
  return false;
}

/** onnxruntime messages with a better wording; the first match wins. */
const TRANSLATIONS: readonly [RegExp, (name: string, m: RegExpExecArray) => string][] = [
  [/Protobuf parsing failed/i, (n) => `${n} is not a valid ONNX file (is it truncated?)`],
  [/ModelProto does not have a graph/i, (n) => `${n} is not an ONNX model (it has no graph)`],
  [
    /Unsupported model IR version: (\d+), max supported IR version: (\d+)/i,
    (n, m) =>
      `${n} uses ONNX IR version ${m[1] ?? '?'}; this server's ONNX Runtime reads up to version ${m[2] ?? '?'}`,
  ],
];

/** `<file>:<line> ns::Func(args…) ` — a C++ source location and signature in an ORT message. */
const NATIVE_FRAME = /\S*\.(?:cc|cpp|h|hpp):\d+\s+(?:[\w:<>~]+\([^)]*\)(?:\s*const)?\s*)?/g;

/** The message of an error onnxruntime raised while loading `file`, in the user's terms. */
export function describeLoadError(error: unknown, file: string, source: string): ServerError {
  if (error instanceof ServerError) return error;
  const name = basename(file);
  const raw = getErrorMessage(error);
  for (const [pattern, describe] of TRANSLATIONS) {
    const match = pattern.exec(raw);
    if (match !== null) return loadFailed(source, describe(name, match));
  }
  const withoutPrefix = raw.split(`Load model from ${file} failed:`).join('');
  const text = redactPaths(withoutPrefix.replace(NATIVE_FRAME, ''), [file, dirname(file)]).trim();
  return loadFailed(
    source,
    `${name} could not be loaded by ONNX Runtime${text === '' ? '' : `: ${text}`}`,
  );
}

/**
 * Names the kind of a model file from its first bytes, so that a runtime given a file it cannot
 * read says what the file is and which implementation reads it (a LightGBM model given to the
 * XGBoost runtime, a joblib pickle given to either), instead of a parse error.
 */
import { open } from 'node:fs/promises';
import { xgboostEncoding } from './xgboost/xgboost-document.js';

/** The file kinds told apart. */
export type ModelFileType =
  'empty' | 'onnx' | 'xgboost-json' | 'xgboost-ubj' | 'lightgbm-text' | 'pickle' | 'unknown';

/** How messages name each kind, and the implementation that reads it (if any). */
export const FILE_TYPES: Readonly<Record<ModelFileType, { label: string; readBy?: string }>> = {
  empty: { label: 'an empty file' },
  onnx: { label: 'an ONNX model', readBy: 'onnx' },
  'xgboost-json': { label: 'an XGBoost JSON model', readBy: 'xgboost' },
  'xgboost-ubj': { label: 'an XGBoost UBJSON model', readBy: 'xgboost' },
  'lightgbm-text': { label: 'a LightGBM text model', readBy: 'lightgbm' },
  pickle: { label: 'a Python pickle/joblib file' },
  unknown: { label: 'not a model format this server recognises' },
};

const HEAD_BYTES = 64;

/**
 * How to convert a pickled scikit-learn model to ONNX, the form this server runs: skl2onnx,
 * once, where the model was trained. `file` is the pickle's name.
 */
export function sklearnConversion(file: string): string {
  return `Convert it once with skl2onnx and put model.onnx in the model folder, e.g. python -c "import joblib, numpy; from skl2onnx import to_onnx; m = joblib.load('${file}'); open('model.onnx', 'wb').write(to_onnx(m, numpy.zeros((1, m.n_features_in_), numpy.float32)).SerializeToString())", then serve it with implementation mlserver_sklearn.SKLearnModel (or onnx)`;
}

/** Reads the head of `file` and names its kind; throws when the file cannot be read. */
export async function detectModelFile(file: string): Promise<ModelFileType> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, HEAD_BYTES, 0);
    return modelFileType(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** Names the kind of a file from its head. */
export function modelFileType(head: Uint8Array): ModelFileType {
  if (head.length === 0) return 'empty';
  const text = Buffer.from(head).toString('latin1');
  if (/^tree\r?\n/.test(text)) return 'lightgbm-text';
  // Pickle protocol 2+ starts with PROTO (0x80); joblib writes pickles, zlib-compressed (0x78) by default.
  if (head[0] === 0x80 || (head[0] === 0x78 && [0x01, 0x5e, 0x9c, 0xda].includes(head[1] ?? 0))) {
    return 'pickle';
  }
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    if (xgboostEncoding(head) === 'ubj') return 'xgboost-ubj';
    return /"learner"|"version"/.test(text) || trimmed.length < 3 ? 'xgboost-json' : 'unknown';
  }
  // ModelProto starts with ir_version (field 1, varint): key byte 0x08.
  if (head[0] === 0x08) return 'onnx';
  return 'unknown';
}

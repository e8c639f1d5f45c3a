/**
 * skl2onnx exports classifiers with a ZipMap operator (ai.onnx.ml) on the probabilities: the
 * output is a sequence of maps, class → probability, one map per row. onnxruntime-node returns
 * only tensors ("Non-tensor type is temporarily not supported"), and a V2 response has no map
 * type either, so such a model could not answer. Here the graph is rewritten once at load time:
 * each ZipMap that produces a graph output becomes an Identity of its input, the FP32
 * `[N, classes]` tensor ZipMap was given, and the output keeps its name. The class labels ZipMap
 * carried (`classlabels_int64s` / `classlabels_strings`) are returned, so the output's metadata
 * can say which column is which class (ADR 0013).
 *
 * The model is read with protobufjs and ONNX's own schema (proto/onnx/onnx-ml.proto, copied from
 * the onnx package), so every field round-trips.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const SCHEMA = fileURLToPath(new URL('../../../proto/onnx/onnx-ml.proto', import.meta.url));

/** onnx.TensorProto.DataType.FLOAT */
const FLOAT = 1;

let modelType: protobuf.Type | undefined;

function modelProto(): protobuf.Type {
  modelType ??= protobuf.loadSync(SCHEMA).lookupType('onnx.ModelProto');
  return modelType;
}

interface Attribute {
  name?: string;
  ints?: (number | { toString(): string })[];
  strings?: Uint8Array[];
}

interface Node {
  opType?: string;
  domain?: string;
  input?: string[];
  output?: string[];
  name?: string;
  attribute?: Attribute[];
}

interface ValueInfo {
  name?: string;
  type?: unknown;
  docString?: string;
}

interface Graph {
  node?: Node[];
  output?: ValueInfo[];
}

/** The result of a rewrite: the model's new bytes and each rewritten output's class labels. */
export interface UnzippedModel {
  readonly bytes: Uint8Array;
  readonly classLabels: Readonly<Record<string, readonly string[]>>;
}

/** Whether the bytes may hold a ZipMap node (its op_type appears as plain text in the protobuf). */
export function mayHaveZipMap(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes('ZipMap');
}

function labelsOf(node: Node): string[] {
  const utf8 = new TextDecoder();
  for (const attribute of node.attribute ?? []) {
    if (attribute.name === 'classlabels_int64s') return (attribute.ints ?? []).map(String);
    if (attribute.name === 'classlabels_strings') {
      return (attribute.strings ?? []).map((s) => utf8.decode(s));
    }
  }
  return [];
}

/**
 * Replaces every ZipMap that feeds a graph output with an Identity, and that output's type with
 * an FP32 `[N, classes]` tensor. Returns undefined when the model has no such ZipMap.
 */
export function unzipMaps(bytes: Uint8Array): UnzippedModel | undefined {
  const type = modelProto();
  const message = type.decode(bytes);
  const model = message as unknown as { graph?: Graph };
  const graph = model.graph;
  if (graph === undefined) return undefined;
  const outputs = new Map((graph.output ?? []).map((o) => [o.name ?? '', o]));
  const classLabels: Record<string, string[]> = {};
  for (const node of graph.node ?? []) {
    const [input] = node.input ?? [];
    const [output] = node.output ?? [];
    if (node.opType !== 'ZipMap' || input === undefined || output === undefined) continue;
    const graphOutput = outputs.get(output);
    if (graphOutput === undefined) continue;
    const labels = labelsOf(node);
    classLabels[output] = labels;
    // Identity (default domain, opset 1+) passes ZipMap's input through under the output's name.
    node.opType = 'Identity';
    node.domain = '';
    node.attribute = [];
    graphOutput.type = {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: [{ dimParam: 'N' }, { dimValue: labels.length }] },
      },
    };
  }
  if (Object.keys(classLabels).length === 0) return undefined;
  return { bytes: type.encode(message).finish(), classLabels };
}

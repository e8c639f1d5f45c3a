/**
 * A valid example inference request for a model, built from its metadata: variable dimensions
 * become 1 and every element a neutral value. Used by the OpenAPI documents and the CLI banner.
 */
import { RAW_ONLY } from './datatype.js';
import type { ModelMetadata } from './types.js';

/** The largest example worth printing or embedding in a document. */
const MAX_EXAMPLE_ELEMENTS = 4096;

/** An OIP JSON request body, or undefined when no JSON example is possible (FP16/BF16, huge inputs). */
export function exampleRequest(
  metadata: Pick<ModelMetadata, 'inputs'>,
): { inputs: object[] } | undefined {
  const inputs: object[] = [];
  for (const t of metadata.inputs) {
    if (RAW_ONLY.has(t.datatype)) return undefined;
    const shape = t.shape.map((d) => (d < 0 ? 1 : d));
    const count = shape.reduce((a, b) => a * b, 1);
    if (count > MAX_EXAMPLE_ELEMENTS) return undefined;
    const value = t.datatype === 'BYTES' ? 'text' : t.datatype === 'BOOL' ? false : 0;
    inputs.push({
      name: t.name,
      shape,
      datatype: t.datatype,
      data: new Array<unknown>(count).fill(value),
    });
  }
  return { inputs };
}

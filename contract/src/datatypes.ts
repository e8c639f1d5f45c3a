/** Every V2 tensor datatype (v2-protocol.md §1.7), in the order of the OIP table. */
export const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
  'BF16',
] as const;

/** One V2 datatype. */
export type Datatype = (typeof DATATYPES)[number];

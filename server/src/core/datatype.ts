/**
 * The V2 tensor datatypes (v2-protocol.md §1.7) and what each needs in memory.
 */

import { DATATYPES, type Datatype } from '@tessera/contract';

export { DATATYPES, type Datatype };

const DATATYPE_SET: ReadonlySet<string> = new Set(DATATYPES);

/** Whether a string names a V2 datatype (case-sensitive, as the spec says). */
export function isDatatype(value: string): value is Datatype {
  return DATATYPE_SET.has(value);
}

/** Fixed element size in bytes; BYTES is variable and reports 0. */
export const ELEMENT_SIZE: Readonly<Record<Datatype, number>> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
  BYTES: 0,
  BF16: 2,
};

/** Integer ranges for range checks of JSON and gRPC list values. */
export const INTEGER_RANGE: Readonly<Partial<Record<Datatype, readonly [number, number]>>> = {
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
  UINT32: [0, 0xffffffff],
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  INT32: [-0x80000000, 0x7fffffff],
};

/** Datatypes that only travel as raw bytes: JSON has no faithful form for them (Triton rejects them too). */
export const RAW_ONLY: ReadonlySet<Datatype> = new Set<Datatype>(['FP16', 'BF16']);

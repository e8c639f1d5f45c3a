/**
 * The `pd` content type (mlserver-features.md §8.2): a request whose inputs are the columns of a
 * dataframe, each named after its column and holding one value per row (shape `[N]` or `[N, 1]`,
 * MLServer's `_to_series`). A model that takes one feature matrix gets the columns side by side,
 * in request order, as MLServer's runtimes hand the dataframe to the framework (`predict(df)`).
 */
import { invalidInput, shorten } from '../../errors.js';
import type { Datatype } from '../datatype.js';
import { formatShape } from '../shape.js';
import type { Tensor, TensorValues } from '../types.js';
import { castTensor } from './numpy-codec.js';

/** The rows of a column: `[N]` and `[N, 1]` hold N values; other shapes are not one column. */
export function columnRows(column: Tensor): number {
  const [rows, width, ...rest] = column.shape;
  if (rows === undefined || rest.length > 0 || (width !== undefined && width !== 1)) {
    throw invalidInput(
      `dataframe column '${shorten(column.name)}': shape ${formatShape(column.shape)} is not one column; send [N] or [N,1]`,
    );
  }
  return rows;
}

/** The columns as one `[N, columns]` tensor of `datatype`, named `name`. */
export function columnsToMatrix(
  columns: readonly Tensor[],
  datatype: Datatype,
  name: string,
): Tensor {
  const first = columns[0];
  if (first === undefined) throw invalidInput('the dataframe has no columns');
  const rows = columnRows(first);
  const cast = columns.map((column) => {
    if (columnRows(column) !== rows) {
      throw invalidInput(
        `dataframe column '${shorten(column.name)}' has ${columnRows(column)} rows, but column '${shorten(first.name)}' has ${rows}`,
      );
    }
    if (column.datatype === 'BYTES' && datatype !== 'BYTES') {
      throw invalidInput(
        `dataframe column '${shorten(column.name)}' is BYTES, but the model takes ${datatype} features`,
      );
    }
    return castTensor(column, datatype).data;
  });
  const width = columns.length;
  if (datatype === 'BYTES') {
    const out: Uint8Array[] = new Array<Uint8Array>(rows * width);
    cast.forEach((values, col) => {
      const strings = values as readonly Uint8Array[];
      for (let row = 0; row < rows; row++)
        out[row * width + col] = strings[row] ?? new Uint8Array();
    });
    return { name, datatype, shape: [rows, width], data: out };
  }
  type Numeric = Exclude<TensorValues, readonly Uint8Array[]>;
  const numeric = cast as Numeric[];
  const template = numeric[0];
  if (template === undefined) throw invalidInput('the dataframe has no columns');
  // Every column now has the model's datatype, so the first one's array type fits them all.
  const Make = template.constructor as new (length: number) => Numeric;
  const out = new Make(rows * width);
  numeric.forEach((values, col) => {
    for (let row = 0; row < rows; row++) out[row * width + col] = values[row] as never;
  });
  return { name, datatype, shape: [rows, width], data: out };
}

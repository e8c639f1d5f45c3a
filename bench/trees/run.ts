// Tree-evaluator benchmark: Tessera's TypeScript XGBoost and LightGBM engines against the Python
// libraries on the same model and rows, as rows per second and as ratios measured in the same run.
//   TESSERA_PYTHON=<venv python> npx node --import tsx bench/trees/run.ts [rows]
// The Python venv is the test peer's (test/peers/python.peer.mjs). Engines run on one thread here;
// the server spreads requests over `parallel_workers` threads.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openLightgbm } from '../../server/src/runtime/lightgbm/lightgbm-engine.js';
import type { TreeEngine } from '../../server/src/runtime/trees/tree-engine.js';
import { open as openXgboost } from '../../server/src/runtime/xgboost/xgboost-engine.js';

const rows = Number(process.argv[2] ?? 100_000);
const repeats = 5;
const python = process.env['TESSERA_PYTHON'];
if (python === undefined) throw new Error('set TESSERA_PYTHON to the test peer venv python');
const dir = mkdtempSync(join(tmpdir(), 'tessera-tree-bench-'));
try {
  const script = join(import.meta.dirname, 'tree_bench.py');
  const out = execFileSync(python, [script, '--out', dir, '--rows', String(rows)], {
    encoding: 'utf8',
  });
  const py = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, number | string>;
  const bytes = readFileSync(join(dir, 'rows.f32'));
  const data = new Float32Array(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  );
  const best = (engine: TreeEngine): number => {
    let fastest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < repeats + 1; i++) {
      const start = process.hrtime.bigint();
      engine.run({ data, rows, outputs: ['predict'] });
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (i > 0) fastest = Math.min(fastest, seconds); // the first run warms up the JIT
    }
    return fastest;
  };
  const xgb = best(await openXgboost({ file: join(dir, 'xgboost.json'), extra: {} }));
  const lgb = best(await openLightgbm({ file: join(dir, 'lightgbm.txt'), extra: {} }));
  const rate = (s: number): string => `${Math.round(rows / s).toLocaleString('en-US')} rows/s`;
  const cores = Number(py['cores']);
  const table = [
    `| model (200 trees, 20 features, ${rows.toLocaleString('en-US')} rows) | Tessera, 1 thread | Python, 1 thread | Python, ${cores} threads | Tessera / Python (1 thread) |`,
    '|---|---|---|---|---|',
    ...(
      [
        ['XGBoost depth 6', xgb, 'xgboost'],
        ['LightGBM 63 leaves', lgb, 'lightgbm'],
      ] as const
    ).map(([label, ts, key]) => {
      const one = Number(py[`${key}_s_1t`]);
      const all = Number(py[`${key}_s_${cores}t`]);
      return `| ${label} | ${rate(ts)} | ${rate(one)} | ${rate(all)} | ${(one / ts).toFixed(2)} |`;
    }),
  ];
  console.log(table.join('\n'));
  console.log(
    `xgboost ${String(py['xgboost_version'])}, lightgbm ${String(py['lightgbm_version'])}, Node ${process.version}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

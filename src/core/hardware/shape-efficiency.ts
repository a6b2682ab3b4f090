/**
 * A matrix engine's efficiency by GEMM shape (`matrix.efficiencyByShape`): what `calibrate` measured
 * where one efficiency cannot follow the machine. A CPU BLAS's rate depends on the weight's shape (on
 * this project's test machine a 576 → 192 projection ran 8× faster per FLOP than a 576 → 49,152 one),
 * which tiles and waves (`tileM`/`tileN`, a GPU's grid over its SMs) do not express.
 *
 * A GEMM M × K × N reads the points of the measured weight shape (K′, N′) nearest to (K, N) in log
 * space, and interpolates log efficiency linearly in log M between the two measured M around it,
 * holding the end value outside them (the report says when M is outside: see `calibration`).
 */
import type { ShapeEfficiency } from './profile';

/** The points of one weight shape, by ascending M. */
interface Curve {
  k: number;
  n: number;
  ms: number[];
  logEff: number[];
}

/** The table grouped by weight shape, each curve sorted by M (prepared once per cost context). */
export type ShapeTable = readonly Curve[];

// The cost functions look the table up per op: prepared once per profile's array.
const prepared = new WeakMap<readonly ShapeEfficiency[], ShapeTable>();

export function shapeTable(points: readonly ShapeEfficiency[]): ShapeTable {
  const had = prepared.get(points);
  if (had) return had;
  const curves = new Map<string, Curve>();
  for (const p of [...points].sort((a, b) => a.m - b.m)) {
    const key = `${p.k}x${p.n}`;
    let c = curves.get(key);
    if (!c) curves.set(key, (c = { k: p.k, n: p.n, ms: [], logEff: [] }));
    c.ms.push(p.m);
    c.logEff.push(Math.log(p.efficiency));
  }
  const table = [...curves.values()];
  prepared.set(points, table);
  return table;
}

/** The efficiency of an M × K × N GEMM on the table (non-empty). */
export function efficiencyAt(table: ShapeTable, m: number, k: number, n: number): number {
  let curve = table[0]!;
  let best = Infinity;
  for (const c of table) {
    const d = Math.log(k / c.k) ** 2 + Math.log(n / c.n) ** 2;
    if (d < best) [curve, best] = [c, d];
  }
  const { ms, logEff } = curve;
  const last = ms.length - 1;
  if (m <= ms[0]!) return Math.exp(logEff[0]!);
  if (m >= ms[last]!) return Math.exp(logEff[last]!);
  let i = 1;
  while (ms[i]! < m) i++;
  const t = Math.log(m / ms[i - 1]!) / Math.log(ms[i]! / ms[i - 1]!);
  return Math.exp(logEff[i - 1]! + t * (logEff[i]! - logEff[i - 1]!));
}

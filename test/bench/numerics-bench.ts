/** Times checkNumerics for the largest model's shapes: node --import tsx test/bench/numerics-bench.ts */
import { checkNumerics } from '../../src/core/numerics/check';
import type { NumericsOptions } from '../../src/core/numerics/types';

const shape = { hidden: 16384, outFeatures: 256, multiOut: [256, 64, 64], headDim: 128, context: 512, rows: 4 };
const base: NumericsOptions = {
  sites: ['rmsnorm-linear', 'layernorm-linear', 'softmax-v', 'norm-multi-linear'],
  normKind: 'rmsnorm',
  linearBias: false,
  shape,
  dtypes: ['fp32', 'bf16', 'fp16'],
  accumulate: 'fp32',
  seed: 1,
  tolerance: 2,
};

function time(label: string, opts: NumericsOptions, reps = 5): void {
  checkNumerics(opts); // warm-up
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    checkNumerics(opts);
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  console.log(`${label}: median ${t[Math.floor(reps / 2)]!.toFixed(1)} ms, min ${t[0]!.toFixed(1)} ms, max ${t[reps - 1]!.toFixed(1)} ms`);
}

const t0 = performance.now();
const first = checkNumerics(base);
console.log(`first call (cold): ${(performance.now() - t0).toFixed(1)} ms; shape used ${JSON.stringify(first.shape)}`);
time('all sites × fp32/bf16/fp16, accumulate fp32', base);
time('all sites × fp32/bf16/fp16, accumulate storage', { ...base, accumulate: 'storage' });

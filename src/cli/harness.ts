/**
 * `deferred-norm harness`: writes the self-contained PyTorch script that times a model's kernels on
 * the machine it runs on (python/deferred_norm_harness.py with the plan of src/core/measure/plan.ts
 * written into it).
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../core/errors';
import type { HardwareProfile } from '../core/hardware/profile';
import { harnessPlan, type HarnessPlan } from '../core/measure/plan';
import type { MeasureDevice, MeasureDtype } from '../core/measure/types';
import type { ModelSpec } from '../core/model/spec';
import { resolveDtype } from '../core/sim/simulate';
import type { Workload } from '../core/workload';

const SCRIPT = join('python', 'deferred_norm_harness.py');

/** The harness's source, found from this file upwards: dist/ in the bundle, src/cli/ from source. */
export function harnessSource(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, SCRIPT);
    if (existsSync(candidate)) return readFileSync(candidate, 'utf8');
    if (dirname(dir) === dir) break;
  }
  throw new InputError('harness', '', `the harness script ${SCRIPT} beside the program`, 'none above ' + from);
}

/**
 * The script with its plan. The plan goes into a Python raw string: JSON never holds a newline there,
 * and every ' is written \u0027 so that no text from a model file can end the string.
 */
export function harnessScript(plan: HarnessPlan, source = harnessSource()): string {
  const json = JSON.stringify(plan).replace(/'/g, '\\u0027');
  if (!source.includes("r'''__PLAN__'''")) throw new Error('harness: the script has no plan placeholder');
  return source.replace("r'''__PLAN__'''", () => `r'''${json}'''`);
}

/** The dtype a device times: fp32 on a CPU; on a GPU the workload's or the profile's, if PyTorch computes in it. */
export function measureDtype(hw: HardwareProfile, workload: Workload, device: MeasureDevice): MeasureDtype {
  if (device === 'cpu') return 'fp32';
  const dtype = resolveDtype(hw, workload);
  if (dtype !== 'fp32' && dtype !== 'bf16' && dtype !== 'fp16') {
    throw new InputError('--dtype', '', 'fp32, bf16 or fp16 (the dtypes the harness times on a GPU)', dtype);
  }
  return dtype;
}

export function planFor(spec: ModelSpec, hw: HardwareProfile, workload: Workload, device: MeasureDevice, quick: boolean): HarnessPlan {
  return harnessPlan(spec, hw, workload, device, measureDtype(hw, workload, device), quick);
}

/**
 * The shape of a HardwareProfile as data: one description that the validator,
 * the `--set` overrides and the text formatter all walk, so the three cannot
 * disagree about which fields exist, their ranges or their units. The JSON
 * Schema (schemas/hardware-profile.schema.json) states the same rules for
 * editors; a unit test checks the two agree. Paths into it are paths.ts's.
 */
import { DTYPES } from './profile';

export interface NumberSpec {
  kind: 'number';
  /** Lower bound; exclusive when `exclusiveMin`. */
  min: number;
  exclusiveMin: boolean;
  max?: number;
  integer?: boolean;
  /** Unit shown after the value, e.g. `ns`, `GB/s`; empty for a plain ratio. */
  unit: string;
  label: string;
}
export interface BooleanSpec {
  kind: 'boolean';
  label: string;
}
export interface EnumSpec {
  kind: 'enum';
  values: readonly string[];
  label: string;
}
export interface StringSpec {
  kind: 'string';
  label: string;
  /** Whether '' is accepted. */
  allowEmpty: boolean;
  pattern?: RegExp;
  patternText?: string;
}
/** A string that must name one of `memory.tiers[].name`. */
export interface TierRefSpec {
  kind: 'tierRef';
  label: string;
}
export type LeafSpec = NumberSpec | BooleanSpec | EnumSpec | StringSpec | TierRefSpec;

export interface ObjectSpec {
  kind: 'object';
  label: string;
  fields: Readonly<Record<string, NodeSpec>>;
  /** Fields that may be left out; the validator fills `defaults` for them. */
  optional?: readonly string[];
  /** Values of optional fields that are left out (a field without one is simply absent). */
  defaults?: Readonly<Record<string, unknown>>;
}
/** `matrix.peakTflops`: keys are dtypes, any subset (at least one). */
export interface DtypeRecordSpec {
  kind: 'dtypeRecord';
  label: string;
  value: NumberSpec;
}
export interface ArraySpec {
  kind: 'array';
  label: string;
  item: ObjectSpec;
  minItems: number;
}
export type NodeSpec = LeafSpec | ObjectSpec | DtypeRecordSpec | ArraySpec;

/**
 * Plausible ranges (issue 9): wide enough for any machine one might describe, narrow enough that no
 * value makes a duration overflow or vanish (a rate of 1e-300 made every time Infinity and the printed
 * percentages NaN). Rates and bandwidths start at 10^-3 of their unit (1 GFLOP/s, 1 M elem/s, 1 MB/s)
 * and stop at 10^12 of it, far past any device, so that what-if runs can make an engine or a network
 * free (`--set collective.bandwidthGBps=1e12`) the way a latency is set to 0; latencies stop at one
 * second; costs at 1,000 adds.
 */
const RANGE = {
  latencyNs: { min: 0, max: 1e9 },
  rate: { min: 1e-3, max: 1e12 },
  bandwidth: { min: 1e-3, max: 1e12 },
  capacity: { min: 1e-3, max: 1e7 },
  cost: { min: 0, max: 1e3 },
  computeUnits: { min: 1, max: 2 ** 20 },
  efficiency: { min: 1e-3, max: 1 },
} as const;
const ns = (label: string): NumberSpec => ({ kind: 'number', ...RANGE.latencyNs, exclusiveMin: false, unit: 'ns', label });
const rate = (unit: string, label: string): NumberSpec => ({ kind: 'number', ...RANGE.rate, exclusiveMin: false, unit, label });
const bandwidth = (label: string): NumberSpec => ({ kind: 'number', ...RANGE.bandwidth, exclusiveMin: false, unit: 'GB/s', label });
const cost = (label: string): NumberSpec => ({ kind: 'number', ...RANGE.cost, exclusiveMin: false, unit: '× add', label });

export const TOPOLOGIES = ['tree', 'ring'] as const;
export const ATTENTION_KERNELS = ['eager', 'flash'] as const;
export const NORM_KERNELS = ['fused', 'eager'] as const;
export const KERNEL_LAUNCHES = ['per-kernel', 'graph-in-decode'] as const;
export const EAGER_NORM_MULTIPLIES = ['fp32', 'activation'] as const;
export const DEFERRED_STATISTICS = ['norm-kernels', 'second-stream', 'second-stream-from-512'] as const;
export const ALL_REDUCE_KERNELS = ['ring', 'one-shot'] as const;

const TIER: ObjectSpec = {
  kind: 'object',
  label: 'memory tier',
  fields: {
    name: { kind: 'string', label: 'name', allowEmpty: false },
    bandwidthGBps: bandwidth('bandwidth'),
    capacityGB: { kind: 'number', ...RANGE.capacity, exclusiveMin: false, unit: 'GB', label: 'capacity' },
  },
};

/** One point of `matrix.efficiencyByShape`: a measured GEMM shape and the fraction of peak it reached. */
const SHAPE_POINT: ObjectSpec = {
  kind: 'object',
  label: 'measured GEMM shape',
  fields: {
    m: { kind: 'number', min: 1, max: 2 ** 31, exclusiveMin: false, integer: true, unit: 'rows', label: 'M' },
    k: { kind: 'number', min: 1, max: 2 ** 31, exclusiveMin: false, integer: true, unit: 'inputs', label: 'K' },
    n: { kind: 'number', min: 1, max: 2 ** 31, exclusiveMin: false, integer: true, unit: 'outputs', label: 'N' },
    efficiency: { kind: 'number', ...RANGE.efficiency, exclusiveMin: false, unit: '', label: 'efficiency' },
  },
};

/** Every field of a HardwareProfile except `$schema`, `provenance` and `sources` (handled by the validator itself). */
export const PROFILE_SPEC: ObjectSpec = {
  kind: 'object',
  label: 'hardware profile',
  fields: {
    name: {
      kind: 'string',
      label: 'name',
      allowEmpty: false,
      pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
      patternText: 'a short id of letters, digits, ".", "_" or "-" (e.g. "my-chip")',
    },
    title: { kind: 'string', label: 'title', allowEmpty: false },
    description: { kind: 'string', label: 'description', allowEmpty: true },
    defaultDtype: { kind: 'enum', values: DTYPES, label: 'default dtype' },
    computeUnits: { kind: 'number', ...RANGE.computeUnits, exclusiveMin: false, integer: true, unit: 'units', label: 'compute units P' },
    matrix: {
      kind: 'object',
      label: 'Matrix engine',
      fields: {
        peakTflops: { kind: 'dtypeRecord', label: 'peak', value: rate('TFLOP/s', 'peak') },
        efficiency: { kind: 'number', ...RANGE.efficiency, exclusiveMin: false, unit: '', label: 'efficiency' },
        tileM: { kind: 'number', min: 1, max: 65536, exclusiveMin: false, integer: true, unit: 'rows', label: 'tile rows' },
        tileN: { kind: 'number', min: 1, max: 65536, exclusiveMin: false, integer: true, unit: 'columns', label: 'tile columns' },
        startLatencyNs: ns('start latency'),
        weightsResident: { kind: 'boolean', label: 'weights resident' },
        fusedEpilogue: { kind: 'boolean', label: 'fused epilogue' },
        efficiencyByShape: { kind: 'array', label: 'efficiency by shape', item: SHAPE_POINT, minItems: 1 },
      },
      optional: ['tileM', 'tileN', 'efficiencyByShape'],
    },
    vector: {
      kind: 'object',
      label: 'Vector engine',
      fields: {
        gelemsPerSec: rate('G elem/s', 'throughput'),
        expCost: cost('exp cost'),
        rsqrtCost: cost('rsqrt cost'),
        divCost: cost('div cost'),
        startLatencyNs: ns('start latency'),
      },
    },
    collective: {
      kind: 'object',
      label: 'Collective network',
      fields: {
        topology: { kind: 'enum', values: TOPOLOGIES, label: 'topology' },
        hopLatencyNs: ns('hop latency'),
        bandwidthGBps: bandwidth('bandwidth'),
        startLatencyNs: ns('start latency'),
        interChip: {
          kind: 'object',
          label: 'between chips',
          fields: {
            hopLatencyNs: ns('inter-chip hop latency'),
            bandwidthGBps: bandwidth('inter-chip bandwidth'),
            startLatencyNs: ns('all-reduce fixed cost'),
            oneShotStartNs: ns('one-shot all-reduce fixed cost'),
          },
          optional: ['startLatencyNs', 'oneShotStartNs'],
          defaults: { startLatencyNs: 0, oneShotStartNs: 0 },
        },
      },
    },
    memory: {
      kind: 'object',
      label: 'Memory',
      fields: {
        tiers: { kind: 'array', label: 'tiers', item: TIER, minItems: 1 },
        weightsTier: { kind: 'tierRef', label: 'weights tier' },
        kvCacheTier: { kind: 'tierRef', label: 'KV-cache tier' },
        prefetch: { kind: 'boolean', label: 'prefetch' },
        activationsTier: { kind: 'tierRef', label: 'activations tier' },
        efficiency: { kind: 'number', ...RANGE.efficiency, exclusiveMin: false, unit: '', label: 'bandwidth efficiency' },
      },
      optional: ['activationsTier', 'efficiency'],
      defaults: { efficiency: 1 },
    },
    kernels: {
      kind: 'object',
      label: 'Kernels',
      fields: {
        attention: { kind: 'enum', values: ATTENTION_KERNELS, label: 'attention kernel' },
        norm: { kind: 'enum', values: NORM_KERNELS, label: 'norm kernel' },
        launch: { kind: 'enum', values: KERNEL_LAUNCHES, label: 'launch' },
        graphKernelNs: ns('kernel in a captured graph'),
        eagerNormMultiply: { kind: 'enum', values: EAGER_NORM_MULTIPLIES, label: 'eager norm multiply' },
        deferredStatistic: { kind: 'enum', values: DEFERRED_STATISTICS, label: 'deferred statistic' },
        dispatchNs: ns('host dispatch per op'),
        streamJoinNs: ns('second-stream fork and join'),
        passOverheadNs: ns('host time per pass'),
        allReduce: { kind: 'enum', values: ALL_REDUCE_KERNELS, label: 'all-reduce kernel' },
      },
      optional: ['attention', 'norm', 'launch', 'graphKernelNs', 'eagerNormMultiply', 'deferredStatistic', 'dispatchNs', 'streamJoinNs', 'passOverheadNs', 'allReduce'],
      defaults: { attention: 'eager', norm: 'fused', launch: 'per-kernel', graphKernelNs: 0, eagerNormMultiply: 'fp32', deferredStatistic: 'norm-kernels', dispatchNs: 0, streamJoinNs: 0, passOverheadNs: 0, allReduce: 'ring' },
    },
  },
  optional: ['title', 'description', 'kernels'],
  defaults: { kernels: {} },
};

/** What a leaf accepts, in words, for error messages. */
export function expectedText(spec: LeafSpec, tierNames?: readonly string[]): string {
  switch (spec.kind) {
    case 'number': {
      const noun = spec.integer ? 'an integer' : 'a number';
      const low = `${spec.exclusiveMin ? '>' : '≥'} ${boundText(spec.min)}`;
      return spec.max === undefined ? `${noun} ${low}` : `${noun} ${low} and ≤ ${boundText(spec.max)}`;
    }
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${spec.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'string':
      return spec.patternText ?? (spec.allowEmpty ? 'a string' : 'a non-empty string');
    case 'tierRef':
      return tierNames && tierNames.length > 0
        ? `the name of a tier in memory.tiers (${tierNames.map((n) => JSON.stringify(n)).join(', ')})`
        : 'the name of a tier in memory.tiers';
  }
}

/** 1e9 rather than 1000000000 for the round bounds. */
function boundText(n: number): string {
  const log = Math.log10(n);
  return n >= 1e5 && Number.isInteger(log) ? `1e${log}` : String(n);
}

/** Checks one leaf value against its spec (tier references only for being a non-empty string). */
export function leafAccepts(spec: LeafSpec, value: unknown): boolean {
  switch (spec.kind) {
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return false;
      if (spec.integer && !Number.isInteger(value)) return false;
      if (spec.exclusiveMin ? !(value > spec.min) : !(value >= spec.min)) return false;
      return spec.max === undefined || value <= spec.max;
    case 'boolean':
      return typeof value === 'boolean';
    case 'enum':
      return typeof value === 'string' && spec.values.includes(value);
    case 'string':
      if (typeof value !== 'string') return false;
      if (!spec.allowEmpty && value.length === 0) return false;
      return spec.pattern === undefined || spec.pattern.test(value);
    case 'tierRef':
      return typeof value === 'string' && value.length > 0;
  }
}

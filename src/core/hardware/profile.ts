/**
 * A machine described as data: engines that run at the same time, each doing
 * one op at a time. Cost models in src/core/sim read these numbers; nothing
 * about a particular chip is written in code.
 */

export type Dtype = 'fp32' | 'bf16' | 'fp16' | 'fp8' | 'int8' | 'int4';
export const DTYPES: readonly Dtype[] = ['fp32', 'bf16', 'fp16', 'fp8', 'int8', 'int4'];

export const DTYPE_BYTES: Record<Dtype, number> = { fp32: 4, bf16: 2, fp16: 2, fp8: 1, int8: 1, int4: 0.5 };

export interface MatrixEngine {
  /** Peak dense rate per dtype, in TFLOP/s (10^12 multiply-adds × 2 per second). */
  peakTflops: Partial<Record<Dtype, number>>;
  /** Fraction of peak a real kernel reaches (0–1]. */
  efficiency: number;
  /**
   * Output tile of one thread block, rows × columns (a GPU's GEMM): a matmul's grid of tiles runs in
   * waves of `computeUnits` tiles, and a partly filled tile or wave costs a full one. Absent: no tiles
   * (every shape reaches `efficiency`).
   */
  tileM?: number;
  tileN?: number;
  /**
   * Efficiency measured by GEMM shape (written by `deferred-norm calibrate`): a linear reads the points
   * of the weight shape nearest its (K, N), interpolated in log space over M (hardware/shape-efficiency.ts),
   * instead of `efficiency`. Absent: every shape reaches `efficiency`.
   */
  efficiencyByShape?: ShapeEfficiency[];
  /** Fixed cost to start one matmul (or one tile), in ns. */
  startLatencyNs: number;
  /** In-memory compute: weights stay in the compute arrays and never move. */
  weightsResident: boolean;
  /** The epilogue (scale, bias) is applied as the matmul writes its output, not as a separate vector pass. */
  fusedEpilogue: boolean;
}

/** One measured GEMM shape: M rows × K inputs × N outputs reached `efficiency` of the peak. */
export interface ShapeEfficiency {
  m: number;
  k: number;
  n: number;
  efficiency: number;
}

/** Where a calibrated profile's numbers were measured: outside these shapes they are extrapolated. */
export interface CalibrationRecord {
  device: string;
  /** ISO date of the measurements. */
  date: string;
  measurements: number;
  /** The GEMMs measured: rows M from mMin to mMax, inputs K and outputs N up to kMax and nMax. */
  shapes: { mMin: number; mMax: number; kMax: number; nMax: number };
}

export interface VectorEngine {
  /**
   * Arithmetic throughput of the elementwise units over all units, in 10^9 add/mul-equivalents per
   * second. Where operands stream from memory (memory.activationsTier) the bandwidth bounds it too.
   */
  gelemsPerSec: number;
  /** Cost of one exp, rsqrt or division relative to one add/mul. */
  expCost: number;
  rsqrtCost: number;
  divCost: number;
  /** Fixed cost to start one vector op, in ns. */
  startLatencyNs: number;
}

export interface CollectiveNetwork {
  /** Shape of the gather/broadcast of a per-row scalar over the compute units. */
  topology: 'tree' | 'ring';
  /** Latency of one hop, in ns. */
  hopLatencyNs: number;
  /** Bandwidth of the reduction network, in GB/s (10^9 bytes). */
  bandwidthGBps: number;
  /** Fixed cost to start one collective, in ns. */
  startLatencyNs: number;
  /**
   * Between chips, for tensor-parallel all-reduce: a ring of 2·(tp − 1) hops, plus a fixed cost per
   * all-reduce (`startLatencyNs`: the library's launch and handshake, which small messages pay whole);
   * or, with kernels.allReduce `one-shot`, one hop and `oneShotStartNs` (see AllReduceKernel).
   */
  interChip: { hopLatencyNs: number; bandwidthGBps: number; startLatencyNs: number; oneShotStartNs: number };
}

export interface MemoryTier {
  name: string;
  bandwidthGBps: number;
  capacityGB: number;
}

export interface MemorySystem {
  tiers: MemoryTier[];
  /** Tier that holds weights that are not resident in the matrix engine. */
  weightsTier: string;
  /** Tier that holds the KV cache. */
  kvCacheTier: string;
  /** Weights can be fetched ahead of the matmul that needs them (a memory engine running ahead). */
  prefetch: boolean;
  /**
   * Tier activations live in between kernels (HBM on a GPU): elementwise ops then read and write their
   * operands there and share its bandwidth. Absent: activations stay next to the compute units.
   */
  activationsTier?: string;
  /** Fraction of a tier's peak bandwidth that streaming kernels reach (0–1]. */
  efficiency: number;
}

export type AttentionKernel = 'eager' | 'flash';
export type NormKernel = 'fused' | 'eager';
export type KernelLaunch = 'per-kernel' | 'graph-in-decode';
/**
 * How a deferred norm's statistic runs beside the matmul: `norm-kernels`, the kernels of `norm` (one
 * fused kernel, or PyTorch's eager chain); `second-stream`, one statistic kernel (FlashNorm's Triton
 * inv_rms) on a second stream; `second-stream-from-512`, the same only for 512 token rows or more,
 * the plain sequential norm below (FlashNorm's adaptive dispatch).
 */
/** Where PyTorch's eager RMSNorm multiplies x by the statistic: in fp32 (Hugging Face's chain) or in the activation dtype. */
export type EagerNormMultiply = 'fp32' | 'activation';
export type DeferredStatistic = 'norm-kernels' | 'second-stream' | 'second-stream-from-512';
/**
 * How tensor-parallel partial sums are all-reduced: `ring`, NCCL's ring (2·(tp − 1) steps, 2(tp − 1)/tp
 * of the bytes on each link); `one-shot`, a custom kernel in which every chip reads the other chips'
 * partials over the links in one step and reduces them itself ((tp − 1) × the bytes, one hop), what
 * vLLM's and SGLang's custom all-reduce and PyTorch's intra-node comm run for small messages.
 */
export type AllReduceKernel = 'ring' | 'one-shot';

/** How the serving software runs the model on this machine: stated choices, not hardware facts. */
export interface Kernels {
  /** `eager`: scores materialized, softmax as its own passes; `flash`: one fused kernel, online softmax, division after ·V. */
  attention: AttentionKernel;
  /** `fused`: one norm kernel; `eager`: PyTorch's unfused RMSNorm/LayerNorm (up-cast, square, mean, rsqrt, multiply, down-cast, γ). */
  norm: NormKernel;
  /** `per-kernel`: every kernel pays its engine's start latency; `graph-in-decode`: decode runs as a captured graph. */
  launch: KernelLaunch;
  /** Cost of one kernel inside a captured graph (ns). */
  graphKernelNs: number;
  /**
   * `norm: eager` only: `fp32`, Hugging Face's RMSNorm (x·r on the up-cast x, then down-cast, then ·γ);
   * `activation`, a hand-written one (r down-cast, then x·r·γ in fp16/bf16), as FlashNorm's notebook.
   */
  eagerNormMultiply: EagerNormMultiply;
  /** How a deferred norm's statistic is computed and overlapped (DeferredStatistic). */
  deferredStatistic: DeferredStatistic;
  /**
   * Host time to issue one op outside a captured graph (ns): PyTorch eager's Python dispatch, paid by
   * every kernel on top of its engine's start latency; 0 where a compiled runtime issues kernels.
   */
  dispatchNs: number;
  /**
   * Host time to fork a deferred statistic onto a second stream and join it back (ns): the stream
   * switches and wait_stream calls of `second-stream*`, paid once per deferred site; 0 in a graph.
   */
  streamJoinNs: number;
  /**
   * Host time of one forward pass outside its kernels (ns): the runtime's step (input preparation,
   * the scheduler, sampling the token and copying it back), paid once per prefill and once per decode
   * step. Not part of a layer's makespan: the pass figures of validate add it.
   */
  passOverheadNs: number;
  /** How tensor-parallel all-reduces run (AllReduceKernel). */
  allReduce: AllReduceKernel;
}

export interface HardwareProfile {
  $schema?: string;
  /** Short id used on the command line, e.g. `dimc`. */
  name: string;
  title: string;
  description: string;
  /** Dtype used when the workload does not name one. */
  defaultDtype: Dtype;
  /** P: the number of compute units one activation vector is spread over. */
  computeUnits: number;
  matrix: MatrixEngine;
  vector: VectorEngine;
  collective: CollectiveNetwork;
  memory: MemorySystem;
  kernels: Kernels;
  /**
   * Where each number comes from, keyed by its dotted path
   * (e.g. `collective.hopLatencyNs`): a datasheet, a paper, an assumption, or
   * "calibrated to reproduce X".
   */
  provenance: Record<string, string>;
  /** Works cited by the provenance notes. */
  sources: { id: string; citation: string }[];
  /** Set by `deferred-norm calibrate`: what was measured, for the report's extrapolation note. */
  calibration?: CalibrationRecord;
}

/**
 * Whether a provenance text records a change made over the profile (by `--set` or by the panel's
 * controls): such texts begin with "set", the kind word provenanceCounts groups them by.
 */
export function isOverride(provenance: string | undefined): boolean {
  return provenance !== undefined && /^set\b/.test(provenance);
}

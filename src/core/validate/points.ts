/**
 * Published latency measurements the simulator is checked against (`deferred-norm validate`, issue 10).
 *
 * Every point is a measurement someone published, with the exact figure as published and where it
 * is: nothing here is estimated or read off a chart. Where a setup detail is not published, the
 * point's note says so. The model is a fixture folder of test/fixtures/configs (real published
 * configs); the hardware is a preset, changed only by `--set`-style overrides where the measured
 * software stack differs from the preset's defaults (FlashNorm's PyTorch-eager baseline).
 *
 * Calibration: `use: 'calibration'` points are the only ones `npm run calibrate:gpu` fits the
 * presets' `matrix.efficiency` and `memory.efficiency` to; every other point is held back.
 */

/** How a measurement maps onto simulated passes (validate.ts computes each from the simulator). */
export type MetricKind =
  /** Time to first token: one prefill pass of `input` tokens per sequence (its baseline latency). */
  | 'ttft'
  /** End to end: TTFT + (output − 1) decode steps, the KV cache growing from input + 1 to input + output − 1. */
  | 'e2e'
  /** Time per output token: one decode step at `context`. */
  | 'tpot'
  /** One norm → projection site alone (FlashNorm's micro-benchmark), its baseline or deferred form. */
  | 'site';

export interface Source {
  id: string;
  /** Title of the document, with the table, file or build the figures come from. */
  title: string;
  /** Who published it. */
  authors: string;
  url: string;
  /** What kind of publication and why it is independent of the others. */
  kind: string;
}

export interface PointWorkload {
  /** Sequences in the batch. */
  batch: number;
  /** Prompt tokens per sequence. */
  input: number;
  /** Generated tokens per sequence (e2e). */
  output?: number;
  /** Tokens in the KV cache (tpot). */
  context?: number;
  /** Tensor-parallel degree (GPUs). */
  tp: number;
  dtype: 'fp32' | 'bf16' | 'fp16' | 'fp8' | 'int8';
}

/**
 * Projections a serving stack runs as one GEMM over concatenated weights: `qkv`, the q, k and v
 * projections; `gate_up`, a gated MLP's gate and up projections. Each is one kernel where the
 * checkpoint has two or three (validate.ts, fuseProjections).
 */
export type FusedProjection = 'qkv' | 'gate_up';

export interface Point {
  /** Short stable id, shown in the table. */
  id: string;
  /** A Source id. */
  source: string;
  /** Where in the source: table, file, build, row. */
  where: string;
  /** Fixture folder under test/fixtures/configs. */
  model: string;
  /** The model as the source names it, and why the fixture stands for it. */
  modelAsPublished: string;
  /** Hardware preset name. */
  hardware: string;
  /** The GPU as the source names it. */
  hardwareAsPublished: string;
  /** `path=value` overrides of the preset, for a software stack that differs from its defaults. */
  set: string[];
  /** Whole passes: the projections the measured stack runs as one GEMM each (its kernels, as its model code has them). */
  fusedProjections?: FusedProjection[];
  /** The serving stack that was measured. */
  stack: string;
  workload: PointWorkload;
  metric: MetricKind;
  /** The figure exactly as published, with its unit. */
  published: string;
  /** The comparable figure in milliseconds (equal to the published one, or derived as `derivation` says). */
  measuredMs: number;
  derivation?: string;
  /** Site points: which site, and whether the row is its baseline or its deferred form. */
  site?: {
    siteId: string;
    variant: 'baseline' | 'deferred';
    /** Consumers the measured projection has, when fewer than the model's site feeds. */
    consumers?: string[];
    /** The consumers run as one GEMM of their summed outputs (a fused q,k,v projection), as measured. */
    fused?: boolean;
  };
  /** Whether calibration may fit to it. */
  use: 'calibration' | 'held-back';
  /** Setup details the source leaves out, and anything that makes the comparison approximate. */
  note: string;
}

export const SOURCES: readonly Source[] = [
  {
    id: 'trtllm',
    title:
      'Performance of TensorRT-LLM, docs/source/performance.md (release 0.5.0–0.6.1), section "Low Latency" (data from TensorRT-LLM v0.5), tables "H100 GPUs (FP8)" and "A100 GPUs (FP16)", column "1st Token Latency (ms)"',
    authors: 'NVIDIA (TensorRT-LLM team)',
    url: 'https://github.com/NVIDIA/TensorRT-LLM/blob/release/0.5.0/docs/source/performance.md',
    kind: 'vendor documentation: NVIDIA measuring its own inference compiler on its own GPUs',
  },
  {
    id: 'gpt-fast',
    title: 'gpt-fast README.md, tables "Benchmarks" and "Tensor Parallelism" (tokens/second at batch size 1)',
    authors: 'PyTorch team at Meta (pytorch-labs/gpt-fast)',
    url: 'https://github.com/pytorch-labs/gpt-fast/blob/main/README.md',
    kind: 'framework repository: native PyTorch with torch.compile, measured by its authors',
  },
  {
    id: 'vllm-ci',
    title:
      'vLLM performance benchmark on Buildkite, "Latency tests" table (input 32 tokens, output 128 tokens, batch 8, end-to-end latency): build 9523 (A100-SXM4-80GB) and build 9555 (8xH100); tests defined in .buildkite/nightly-benchmarks/tests/latency-tests.json',
    authors: 'vLLM project',
    url: 'https://buildkite.com/vllm/performance-benchmark/builds/9523 and https://buildkite.com/vllm/performance-benchmark/builds/9555',
    kind: "an open-source serving engine's own continuous-integration benchmark",
  },
  {
    id: 'flashnorm',
    title:
      'FlashNorm: Fast Normalization for Transformers (arXiv 2407.09577 v4), tables "Norm-then-project latency on T4 GPU at SmolLM2-135M scale" (tab:overlap) and "… at Llama-7B scale" (tab:overlap7b); code: notebooks/flashNorm_gpu_benchmark.ipynb',
    authors: 'N. Graef, F. Makraduli, A. Wasielewski, M. Clapp (OpenMachine)',
    url: 'https://arxiv.org/abs/2407.09577 ; https://github.com/OpenMachine-ai/transformer-tricks (tex/flashNorm.tex, notebooks/flashNorm_gpu_benchmark.ipynb)',
    kind: 'paper with a reproducible notebook: a micro-benchmark of one norm → projection on a Tesla T4',
  },
];

const TRTLLM_STACK =
  'TensorRT-LLM v0.5.0 with TensorRT 9.1, gptSessionBenchmark --input_output_len "<input>,1" (one output token: the context phase only); engines built with --remove_input_padding --enable_context_fmha --use_gpt_attention_plugin float16';
const TRTLLM_NOTE =
  'TTFT of a batch of one, as published (whole milliseconds, so ±0.5 ms of rounding). NVIDIA\'s companion blog docs/source/blogs/H100vsA100.md in the same release says "H100 FP8, A100 FP16, SXM 80GB GPUs". Number of runs: 5 after 1 warm-up (the documented command).';
const TRTLLM_H100_NOTE =
  ' On H100 the engines were built with --enable_fp8 --fp8_kv_cache: FP8 weights, GEMMs and KV cache; the simulator runs FP8 weights and matmuls and keeps activations and the KV cache in 16 bits.';
const TRTLLM_FUSED_NOTE =
  ' Projections: TensorRT-LLM\'s Attention layer runs q, k and v as one GEMM (tensorrt_llm/layers/attention.py: one ColumnLinear `qkv`); gate and up stay two GEMMs (the Llama builds of the document do not pass --use_fused_mlp).';
const TRTLLM_70B_NOTE =
  ' The document\'s Llama2-70b first-token command lists "64:128,1" twice (a typo); the table gives both the 128 and the 2048 row.';

const GPTFAST_STACK =
  'gpt-fast generate.py --compile (torch.compile mode "reduce-overhead": the decode step runs as a CUDA graph), bfloat16, prompt "Hello, my name is", max_new_tokens 200 (the command-line default), temperature 0.8, top-k 200; tensor parallelism with ENABLE_INTRA_NODE_COMM=1 torchrun';
/** Both stacks all-reduce through a custom one-shot kernel, not NCCL's ring (see the notes). */
const ONE_SHOT_SET = ['kernels.allReduce=one-shot'];
const GPTFAST_NOTE =
  'Published as tokens/s over 200 generated tokens, the wall time including the 6-token prefill (the README says "just 5 tokens"; the tokenizer adds BOS). The A100s are power-limited to 330 W (of 400 W), which lowers clocks in compute-bound work; decode at batch 1 is bound by memory bandwidth, which the cap touches less (the README: "Empirically, seems like peak bandwidth is about 1700 GB/s"). The README gives neither the number of runs nor the PyTorch version (generate.py averages num_samples = 5). Stack override kernels.allReduce=one-shot: ENABLE_INTRA_NODE_COMM=1 makes PyTorch all-reduce through its intra-node comm (one-shot and hybrid-cube-mesh kernels that read peers\' buffers directly, 6-15 µs per call in pytorch/pytorch PR 114001 as quoted in issue 131739), not NCCL\'s ring. Projections: gpt-fast\'s model.py runs q, k and v as one GEMM (Attention.wqkv) and keeps w1, w3 and w2 as three GEMMs.';

const VLLM_STACK =
  'vLLM benchmarks/benchmark_latency.py at its defaults (input 32, output 128, batch 8, ignore_eos), load_format dummy, dtype auto (bfloat16 for Llama 3), CUDA graphs in decode (vLLM\'s default), 5 warm-up and 15 measured iterations';
const VLLM_NOTE =
  'Mean end-to-end latency of one llm.generate() of 8 prompts, as published. The vLLM commit of the build and whether the V0 or V1 engine ran are on the build pages, not in the table. Stack override kernels.allReduce=one-shot: vLLM all-reduces through its custom all-reduce by default on NVLink (disable_custom_all_reduce is off), one-stage for small messages; large prefill messages run its two-stage kernel, which the one-shot model overstates. Projections: vLLM\'s Llama (vllm/model_executor/models/llama.py) runs q, k and v as one GEMM (QKVParallelLinear qkv_proj) and gate and up as one (MergedColumnParallelLinear gate_up_proj).';

const FLASHNORM_STACK =
  'PyTorch eager on a Colab Tesla T4, float16, CUDA events over 200 runs after 30 warm-ups. Standard: irms = rsqrt(x.float().pow(2).mean(-1) + eps).half(); (x * irms * w) @ W.T. FlashNorm: x @ W.T on one CUDA stream beside a Triton inv_rms kernel on another, then out * irms as a separate elementwise kernel';
const FLASHNORM_SET = ['kernels.norm=eager', 'kernels.eagerNormMultiply=activation', 'kernels.deferredStatistic=second-stream-from-512', 'kernels.dispatchNs=10000', 'kernels.streamJoinNs=100000', 'kernels.launch=per-kernel', 'matrix.fusedEpilogue=false'];
const FLASHNORM_NOTE =
  'The benchmark times one norm → projection on a batch of M token rows (M = "Tokens"); at SmolLM2 shapes one 576 → 960 GEMM (q, k and v fused). Stack overrides: the baseline is a hand-written unfused RMSNorm, its statistic in fp32 and x·r·γ in fp16 (kernels.norm=eager, kernels.eagerNormMultiply=activation); the deferred path runs one Triton inv_rms on a second stream beside the GEMM, only from M = 512 (kernels.deferredStatistic=second-stream-from-512), then scales the whole output in one elementwise kernel, not a GEMM epilogue (matrix.fusedEpilogue=false); every op is its own launch (kernels.launch=per-kernel) issued from Python, taken as 10 µs of dispatch per op not hidden behind the GPU (kernels.dispatchNs=10000, an assumption: NVIDIA\'s Nsight example measures about 20 µs host-to-device for a PyTorch elementwise kernel), and forking onto the two streams and joining them back costs the host 0.1 ms once per call (kernels.streamJoinNs=100000: the notebook states "the overhead of managing two CUDA streams from Python (~0.1-0.4ms)"; its lower end is taken). The T4\'s clocks under Colab are not stated. Rows below the compute-bound threshold (1, 64, 256 tokens) run the same sequential code in both columns and are bound by Python launch overhead (0.374 ms for one token), so they are left out.';

/** The measurements, in the order the table prints them. */
export const POINTS: readonly Point[] = [
  // --- TensorRT-LLM v0.5, first-token latency, batch 1 -------------------------------------------
  ...trtllm('a100', 'Llama-2-7b-hf', 1, 128, 16, 'held-back'),
  ...trtllm('a100', 'Llama-2-7b-hf', 1, 2048, 133, 'calibration'),
  ...trtllm('a100', 'Llama-2-70b-hf', 4, 128, 47, 'held-back'),
  ...trtllm('a100', 'Llama-2-70b-hf', 4, 2048, 377, 'held-back'),
  ...trtllm('h100', 'Llama-2-7b-hf', 1, 128, 7, 'held-back'),
  ...trtllm('h100', 'Llama-2-7b-hf', 1, 2048, 36, 'calibration'),
  ...trtllm('h100', 'Llama-2-70b-hf', 4, 128, 26, 'held-back'),
  ...trtllm('h100', 'Llama-2-70b-hf', 4, 2048, 109, 'held-back'),
  // --- gpt-fast, batch 1, 200 new tokens, A100-80GB at 330 W --------------------------------------
  gptFast('Llama-2-7b-hf', 1, 104.9, 'Benchmarks, "Llama-2-7B | Base"', 'calibration'),
  gptFast('Llama-2-7b-hf', 2, 168.84, 'Tensor Parallelism, "Llama-2-7B | 2"', 'held-back'),
  gptFast('Llama-2-7b-hf', 4, 254.02, 'Tensor Parallelism, "Llama-2-7B | 4"', 'held-back'),
  gptFast('Llama-2-7b-hf', 8, 328.43, 'Tensor Parallelism, "Llama-2-7B | 8"', 'held-back'),
  gptFast('Llama-2-70b-hf', 2, 21.32, 'Tensor Parallelism, "Llama-2-70B | 2"', 'calibration'),
  gptFast('Llama-2-70b-hf', 4, 38.01, 'Tensor Parallelism, "Llama-2-70B | 4"', 'held-back'),
  gptFast('Llama-2-70b-hf', 8, 62.5, 'Tensor Parallelism, "Llama-2-70B | 8" (62.50)', 'held-back'),
  // --- vLLM CI latency tests: input 32, output 128, batch 8 ---------------------------------------
  vllm('a100', 'Llama-3.1-8B', 1, '1579.27', 'calibration'),
  vllm('a100', 'Llama-3.1-70B', 4, '3990.59', 'held-back'),
  vllm('h100', 'Llama-3.1-8B', 1, '997.542', 'calibration'),
  vllm('h100', 'Llama-3.1-70B', 4, '2444.47', 'held-back'),
  // --- FlashNorm on a T4: one norm → projection, prefill -------------------------------------------
  ...flashNorm('SmolLM2-135M', 4096, 0.704, 0.468, 'tab:overlap, row "4096"', undefined, '+33.6%', ['held-back', 'held-back']),
  ...flashNorm('SmolLM2-135M', 8192, 0.929, 0.599, 'tab:overlap, row "8192"', undefined, '+35.5%', ['calibration', 'held-back']),
  ...flashNorm('Llama-2-7b-hf', 1024, 1.882, 1.654, 'tab:overlap7b, row "1024"', ['q_proj'], '+12.1%', ['held-back', 'held-back']),
  ...flashNorm('Llama-2-7b-hf', 4096, 7.628, 6.57, 'tab:overlap7b, row "4096"', ['q_proj'], '+13.9%', ['calibration', 'held-back']),
];

function trtllm(gpu: 'a100' | 'h100', model: 'Llama-2-7b-hf' | 'Llama-2-70b-hf', tp: number, input: number, ms: number, use: Point['use']): Point[] {
  const size = model === 'Llama-2-7b-hf' ? '7b' : '70b';
  const h100 = gpu === 'h100';
  return [
    {
      id: `trtllm-${gpu}-l2-${size}-in${input}`,
      source: 'trtllm',
      where: `${h100 ? '"H100 GPUs (FP8)"' : '"A100 GPUs (FP16)"'} low-latency table, row "LLaMA ${size === '7b' ? '7B' : '70B'} | 1 | ${tp} | ${input}"`,
      model,
      modelAsPublished: `"LLaMA ${size === '7b' ? '7B' : '70B'}", built as Llama2-${size} (${size === '7b' ? 'n_layer 32, n_head 32, n_embd 4096, inter_size 11008, vocab 32000' : 'n_layer 80, n_head 64, n_kv_head 8, n_embd 8192, inter_size 28672, vocab 32000'}): the fixture's shapes`,
      hardware: h100 ? 'gpu-h100' : 'gpu-a100',
      hardwareAsPublished: h100 ? 'H100 SXM 80GB (H100-HBM3-80GB)' : 'A100 SXM 80GB',
      set: [],
      fusedProjections: ['qkv'],
      stack: TRTLLM_STACK + (h100 ? ' --enable_fp8 --fp8_kv_cache' : '') + (tp > 1 ? `, --world_size ${tp} --tp_size ${tp}, run with mpirun -n ${tp}` : ''),
      workload: { batch: 1, input, tp, dtype: h100 ? 'fp8' : 'fp16' },
      metric: 'ttft',
      published: `${ms} ms`,
      measuredMs: ms,
      use,
      note: TRTLLM_NOTE + (h100 ? TRTLLM_H100_NOTE : '') + (size === '70b' ? TRTLLM_70B_NOTE : '') + TRTLLM_FUSED_NOTE,
    },
  ];
}

function gptFast(model: 'Llama-2-7b-hf' | 'Llama-2-70b-hf', tp: number, tokensPerSec: number, row: string, use: Point['use']): Point {
  const size = model === 'Llama-2-7b-hf' ? '7b' : '70b';
  return {
    id: `gptfast-a100-l2-${size}-tp${tp}`,
    source: 'gpt-fast',
    where: `README.md, table ${row}`,
    model,
    modelAsPublished: `"Llama-2-${size === '7b' ? '7B' : '70B'}" (meta-llama/Llama-2-${size}-chat-hf, the checkpoint the README converts): the fixture's shapes`,
    hardware: 'gpu-a100',
    hardwareAsPublished: '8xA100-80GB, power limited to 330W, hybrid cube mesh (NVLink)',
    set: ONE_SHOT_SET,
    fusedProjections: ['qkv'],
    stack: GPTFAST_STACK,
    workload: { batch: 1, input: 6, output: 200, tp, dtype: 'bf16' },
    metric: 'e2e',
    published: `${tokensPerSec} tokens/s`,
    measuredMs: (200 / tokensPerSec) * 1000,
    derivation: `200 generated tokens ÷ ${tokensPerSec} tokens/s = ${((200 / tokensPerSec) * 1000).toFixed(1)} ms`,
    use,
    note: GPTFAST_NOTE,
  };
}

function vllm(gpu: 'a100' | 'h100', model: 'Llama-3.1-8B' | 'Llama-3.1-70B', tp: number, ms: string, use: Point['use']): Point {
  const h100 = gpu === 'h100';
  const size = model === 'Llama-3.1-8B' ? '8B' : '70B';
  return {
    id: `vllm-${gpu}-l3-${size.toLowerCase()}-tp${tp}`,
    source: 'vllm-ci',
    where: `build ${h100 ? '9555' : '9523'}, Latency tests, row "latency_llama${size}_tp${tp} | ${h100 ? '8xH100' : 'A100-SXM4-80GB'}", column "Mean latency (ms)"`,
    model,
    modelAsPublished:
      size === '8B'
        ? 'meta-llama/Meta-Llama-3-8B (latency-tests.json); the fixture Llama-3.1-8B has the same shapes (only RoPE scaling and the context limit differ)'
        : 'meta-llama/Meta-Llama-3-70B-Instruct (latency-tests.json); the fixture Llama-3.1-70B has the same shapes (only RoPE scaling and the context limit differ)',
    hardware: h100 ? 'gpu-h100' : 'gpu-a100',
    hardwareAsPublished: h100 ? '8xH100 (the table does not say SXM or PCIe; an 8-GPU NVLink node is taken as SXM)' : 'A100-SXM4-80GB',
    set: ONE_SHOT_SET,
    fusedProjections: ['qkv', 'gate_up'],
    stack: VLLM_STACK + (tp > 1 ? `, tensor_parallel_size ${tp}` : ''),
    workload: { batch: 8, input: 32, output: 128, tp, dtype: 'bf16' },
    metric: 'e2e',
    published: `${ms} ms`,
    measuredMs: Number(ms),
    use,
    note: VLLM_NOTE,
  };
}

function flashNorm(
  model: 'SmolLM2-135M' | 'Llama-2-7b-hf',
  tokens: number,
  standardMs: number,
  flashMs: number,
  where: string,
  consumers: string[] | undefined,
  reduction: string,
  uses: [Point['use'], Point['use']],
): Point[] {
  const small = model === 'SmolLM2-135M';
  const common = {
    source: 'flashnorm',
    model,
    modelAsPublished: small
      ? 'SmolLM2-135M scale: RMSNorm over n = 576 feeding the fused q,k,v projection (k = 576 + 192 + 192 = 960 outputs): the fixture\'s input_layernorm → q_proj, k_proj, v_proj'
      : 'Llama-7B scale: RMSNorm over n = 4096 feeding one 4096 → 4096 projection (the notebook\'s "Norm + QKV Projection (K=4096, N=4096)"): the fixture\'s input_layernorm with q_proj alone as its consumer',
    hardware: 'gpu-t4',
    hardwareAsPublished: 'NVIDIA T4 (Google Colab), "65 TFLOPS FP16, 320 GB/s"',
    set: FLASHNORM_SET,
    stack: FLASHNORM_STACK,
    workload: { batch: 1, input: tokens, tp: 1, dtype: 'fp16' as const },
    metric: 'site' as const,
    note: FLASHNORM_NOTE,
  };
  const tag = small ? 'smollm2' : 'l2-7b';
  return [
    {
      ...common,
      id: `flashnorm-t4-${tag}-${tokens}-std`,
      where: `${where}, column "Sequential"`,
      published: `${standardMs} ms`,
      measuredMs: standardMs,
      site: { siteId: 'attn-norm', variant: 'baseline', ...(consumers ? { consumers } : { fused: true }) },
      use: uses[0],
    },
    {
      ...common,
      id: `flashnorm-t4-${tag}-${tokens}-flash`,
      where: `${where}, column "FlashNorm" (latency reduction as published: ${reduction})`,
      published: `${flashMs} ms`,
      measuredMs: flashMs,
      site: { siteId: 'attn-norm', variant: 'deferred', ...(consumers ? { consumers } : { fused: true }) },
      use: uses[1],
    },
  ];
}

/**
 * ModelSpec: what the simulator needs to know about a model, independent of the
 * file it came from. Readers (config.json, GGUF, safetensors) produce it; the
 * graph builder consumes it. Sizes are per whole model (no tensor parallelism).
 */

export type NormKind = 'rmsnorm' | 'layernorm';

/**
 * Where a norm sits. This decides eligibility for deferral: only a norm whose
 * output goes straight into linear layers can hand its scale to their outputs.
 */
export type NormPlacement =
  /** Normalizes the sublayer input; output feeds only linears. */
  | 'pre'
  /** After the residual sum (BERT, BART, OPT-350m): its output is the residual stream. */
  | 'post'
  /** Normalizes a sublayer's output before the residual sum (Gemma 2/3 post-norms). */
  | 'sandwich'
  /** Per-head norm of queries or keys (Qwen3, Gemma 3, OLMo 2). */
  | 'qk'
  /** MLA latent norm (DeepSeek V2/V3): feeds q_b_proj or kv_b_proj. */
  | 'latent'
  /** The last norm, before lm_head. */
  | 'final';

/** Which sublayer a norm serves. The graph builder wires norms by role. */
export type NormRole =
  | 'attn'
  | 'cross'
  | 'mlp'
  | 'attn-post'
  | 'cross-post'
  | 'mlp-post'
  | 'q'
  | 'k'
  | 'q-latent'
  | 'kv-latent'
  | 'final';

export interface NormSpec {
  /** The checkpoint's module name, e.g. `input_layernorm`, `ln_1`. */
  name: string;
  role: NormRole;
  kind: NormKind;
  eps: number;
  placement: NormPlacement;
  /** Length of the vector the statistic runs over. */
  width: number;
  /** Learned parameters: γ only, γ and β, or Gemma's (1 + γ). */
  affine: 'weight' | 'weight+bias' | 'one-plus-weight' | 'none';
  /** Names of the linear layers that read this norm's output (empty: it feeds the residual). */
  feeds: string[];
}

/** The role of a linear layer in the block; the builder and codegen key on it. */
export type LinearRole =
  | 'q'
  | 'k'
  | 'v'
  | 'qkv'
  | 'o'
  | 'q_a'
  | 'q_b'
  | 'kv_a'
  | 'kv_b'
  | 'cross_q'
  | 'cross_k'
  | 'cross_v'
  | 'cross_o'
  | 'gate'
  | 'up'
  | 'gate_up'
  | 'fc1'
  | 'down'
  | 'router'
  | 'shared_gate'
  | 'shared_up'
  | 'shared_down'
  | 'lm_head';

export interface LinearSpec {
  /** The checkpoint's module name, e.g. `q_proj`, `c_attn`, `query_key_value`. */
  name: string;
  role: LinearRole;
  in: number;
  out: number;
  bias: boolean;
  /** For MoE expert weights: how many copies exist, and how many a token uses. */
  copies?: { total: number; active: number };
}

export type AttentionKind = 'mha' | 'gqa' | 'mqa' | 'mla';

export interface AttentionSpec {
  kind: AttentionKind;
  heads: number;
  kvHeads: number;
  /** Query/key head width (for MLA: nope + rope part). */
  headDim: number;
  /** Value head width (differs from headDim only for MLA). */
  vHeadDim: number;
  /** Sliding-window length in tokens, or null for full attention. */
  window: number | null;
  causal: boolean;
  mla?: {
    qLoraRank: number | null;
    kvLoraRank: number;
    ropeHeadDim: number;
    nopeHeadDim: number;
  };
}

export type MlpKind = 'dense' | 'gated' | 'moe';

/**
 * An MLP activation as the simulation reads it (families/activation.ts parses the config's name):
 * plain ReLU, which a deferred scale can pass; another ReLU form; any GELU form; SiLU/Swish; or a
 * name none of these match.
 */
export type Activation = 'relu' | 'relu-like' | 'gelu' | 'silu' | 'other';

export interface MlpSpec {
  kind: MlpKind;
  /** Intermediate width (per expert for MoE). */
  ffn: number;
  /** The activation's name as the config gives it: shown, never parsed (`activationKind` is read). */
  activation: string;
  activationKind: Activation;
  /** Whether each expert/dense MLP is gated (SwiGLU/GeGLU). */
  gated: boolean;
  bias: boolean;
  experts?: number;
  topK?: number;
  sharedExperts?: number;
  /** Width of the shared expert path in total (sharedExperts × its intermediate). */
  sharedFfn?: number;
}

/** How the sublayers and their norms are arranged. */
export type BlockStyle = 'pre-norm' | 'parallel' | 'sandwich' | 'post-norm';

/** A set of layers that are built identically; simulated once. */
export interface LayerKind {
  /** Short stable id: `decoder`, `sliding`, `full`, `dense`, `moe`, `encoder`, `cross-decoder`. */
  id: string;
  /** Human-readable description, e.g. "sliding window 4096, MoE 8 experts top-2". */
  label: string;
  /** Zero-based indices of the layers of this kind, in the order they run. */
  layers: number[];
  block: BlockStyle;
  attention: AttentionSpec;
  /** Encoder-decoder decoders attend to the encoder output too. */
  crossAttention?: AttentionSpec;
  mlp: MlpSpec;
  norms: NormSpec[];
  /** The layer's linear layers in execution order, with their real names and sizes. */
  linears: LinearSpec[];
  /** Whether this layer runs as part of the encoder of an encoder-decoder or encoder-only model. */
  stack: 'decoder' | 'encoder';
}

export type SourceFormat = 'config.json' | 'gguf' | 'safetensors' | 'directory';

export interface ModelSpec {
  /** A display name: `_name_or_path`, the GGUF `general.name`, or the folder name. */
  name: string;
  /** Family, e.g. `llama`, `qwen3_moe`, `deepseek_v3`, `gpt2`. */
  family: string;
  /** The config's `model_type` (or GGUF `general.architecture`). */
  modelType: string;
  /** `architectures[0]` where present. */
  architecture: string | null;
  /**
   * How the layers were read: by the family's own reader, or, for a model_type no family knows, by the
   * config's fields as a Llama-style decoder (a note says so; the editor flags it).
   */
  readAs: 'family' | 'fields';
  source: { path: string; format: SourceFormat };
  hidden: number;
  /** Number of layers profiled (decoder layers plus encoder layers for encoder-decoder models). */
  layers: number;
  vocab: number;
  normKind: NormKind;
  normEps: number;
  tiedEmbeddings: boolean;
  positions: 'rope' | 'learned' | 'alibi' | 'relative' | 'none';
  maxPositions: number | null;
  /** `encoder`, `decoder` or `encoder-decoder`. */
  topology: 'decoder' | 'encoder' | 'encoder-decoder';
  layerKinds: LayerKind[];
  finalNorm: NormSpec | null;
  /** The output projection (absent for encoder-only models profiled without a head). */
  lmHead: LinearSpec | null;
  /** Parameter counts; `active` is per token (differs from `total` for MoE). */
  params: { total: number; active: number };
  /** Parameter count read from the weights beside the config, when there are any. */
  paramsFromWeights: number | null;
  /** Weight dtype (`torch_dtype`, GGUF file type, safetensors dtype), or null if unknown. */
  dtype: string | null;
  /** A multimodal model's vision tower, named but not profiled. */
  vision: { modelType: string; description: string } | null;
  /** Layers that were left out of the profile, and why (hybrid models). */
  skippedLayers: { indices: number[]; reason: string }[];
  /** Assumptions and facts worth showing beside the figures. */
  notes: string[];
  /**
   * Parameters held outside the profiled layers, final norm and lm_head: token and
   * position embeddings, embedding norms, poolers, projections, relative-position
   * tables, skipped hybrid layers. Listed so that the parameter count follows from
   * the spec alone; none of them is simulated. `active` defaults to `count`.
   */
  extraParams?: { name: string; count: number; active?: number }[];
}

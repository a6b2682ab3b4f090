/**
 * What a family adapter returns, and the alias chains and head arithmetic that
 * most families share.
 */
import type { ConfigReader } from '../fields';
import { LIMITS } from '../fields';
import type { NormStyle } from '../layers';
import type { LayerKind, LinearSpec, ModelSpec, NormKind, NormSpec } from '../spec';

export interface FamilyResult {
  family: string;
  hidden: number;
  vocab: number;
  /** The model's main norm (kind and eps shown in the summary). */
  normStyle: NormStyle;
  tied: boolean;
  positions: ModelSpec['positions'];
  maxPositions: number | null;
  topology: ModelSpec['topology'];
  /** One entry per profiled layer (grouped into kinds later). */
  layers: LayerKind[];
  finalNorm: NormSpec | null;
  lmHead: LinearSpec | null;
  extraParams: NonNullable<ModelSpec['extraParams']>;
  skippedLayers: ModelSpec['skippedLayers'];
  notes: string[];
  /** Set by the generic decoder reader ('fields'); absent, the family's own reader. */
  readAs?: ModelSpec['readAs'];
}

export interface FamilyInput {
  r: ConfigReader;
  /** The (text) model_type the adapter was chosen for. */
  modelType: string;
  /** The family's norm kind (its descriptor's); null for an unknown type, where the epsilon key tells. */
  norm: NormKind | null;
  architecture: string | null;
}

export type Adapter = (input: FamilyInput) => FamilyResult;

/** Alias chains: the first key present wins. */
export const KEYS = {
  hidden: ['hidden_size', 'n_embd', 'd_model', 'hidden_dim', 'n_embed'],
  layers: ['num_hidden_layers', 'n_layer', 'num_layers'],
  heads: ['num_attention_heads', 'n_head', 'num_heads', 'encoder_attention_heads'],
  kvHeads: ['num_key_value_heads', 'num_kv_heads', 'n_head_kv'],
  ffn: ['intermediate_size', 'n_inner', 'ffn_dim', 'd_ff', 'encoder_ffn_dim', 'ffn_hidden_size'],
  experts: ['num_local_experts', 'num_experts', 'n_routed_experts'],
  topK: ['num_experts_per_tok', 'top_k', 'moe_top_k', 'experts_per_token'],
  eps: ['rms_norm_eps', 'layer_norm_eps', 'layer_norm_epsilon', 'norm_epsilon'],
  vocab: ['vocab_size', 'padded_vocab_size'],
  positions: ['max_position_embeddings', 'n_positions', 'max_sequence_length'],
  act: ['hidden_activation', 'hidden_act', 'activation_function'],
  tie: ['tie_word_embeddings'],
} as const;

export function hiddenSize(r: ConfigReader): number {
  return r.size(KEYS.hidden);
}

export function layerCount(r: ConfigReader, keys: readonly string[] = KEYS.layers): number {
  return r.size(keys, { max: LIMITS.layers });
}

export function vocabSize(r: ConfigReader): number {
  return r.size(KEYS.vocab, { max: LIMITS.vocab });
}

export function maxPositions(r: ConfigReader): number | null {
  return r.optSize(KEYS.positions, { max: LIMITS.positions });
}

/**
 * Heads, KV heads and head width. Without an explicit head_dim the heads must
 * divide the hidden size; KV heads must divide the heads (grouped-query attention).
 */
export function resolveHeads(
  r: ConfigReader,
  hidden: number,
  o: { headsKeys?: readonly string[]; kvKeys?: readonly string[]; headDimKeys?: readonly string[]; kvDefault?: number } = {},
): { heads: number; kvHeads: number; headDim: number } {
  const headsKeys = o.headsKeys ?? KEYS.heads;
  const heads = r.size(headsKeys, { max: LIMITS.heads });
  const kvKeys = o.kvKeys ?? KEYS.kvHeads;
  const kvHeads = r.size(kvKeys, { default: o.kvDefault ?? heads, max: LIMITS.heads });
  let headDim = r.optSize(o.headDimKeys ?? ['head_dim']);
  if (headDim === null) {
    if (hidden % heads !== 0) {
      const key = r.lookup(headsKeys)?.key ?? headsKeys[0]!;
      throw r.error(key, `a divisor of the hidden size ${hidden} (no head_dim is given)`, heads);
    }
    headDim = hidden / heads;
  }
  if (heads % kvHeads !== 0) {
    const key = r.lookup(kvKeys)?.key ?? kvKeys[0]!;
    throw r.error(key, `a divisor of the number of attention heads ${heads}`, kvHeads);
  }
  return { heads, kvHeads, headDim };
}

export function activation(r: ConfigReader, fallback: string): string {
  return r.str(KEYS.act, fallback);
}

export function embedParams(name: string, rows: number, width: number): { name: string; count: number } {
  return { name, count: rows * width };
}

export function normParams(name: string, style: NormStyle, width: number): { name: string; count: number } {
  const perWidth = style.affine === 'weight+bias' ? 2 : style.affine === 'none' ? 0 : 1;
  return { name, count: perWidth * width };
}

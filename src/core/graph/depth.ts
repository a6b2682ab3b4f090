/**
 * How far a deferred norm's scale r can travel, and in words why not further: one rule set, read by
 * the sites (which depths the simulator may pick), the pseudo-code and the numerics check.
 */
import type { LayerKind, LinearSpec, ModelSpec, NormSpec } from '../model/spec';
import type { DeferDepth } from '../terms';

/** What the depth rules read of a site (sites.ts's Site has both): its norm, absent for Softmax, and the linears it feeds. */
export interface ScaleSource {
  norm?: NormSpec;
  consumers: readonly LinearSpec[];
}

export const QK_ROLES: ReadonlySet<LinearSpec['role']> = new Set(['q', 'k', 'qkv']);
const ATTENTION_ROLES: ReadonlySet<LinearSpec['role']> = new Set(['q', 'k', 'v', 'qkv']);
export const MLP_IN_ROLES: ReadonlySet<LinearSpec['role']> = new Set(['gate', 'up', 'gate_up', 'fc1']);

const names = (lins: readonly LinearSpec[]): string => lins.map((l) => l.name).join(', ');
const isAre = (lins: readonly unknown[], one: string, many: string): string => (lins.length === 1 ? one : many);

/**
 * Why a norm site's scale cannot travel to `depth`, in words, or null when the algebra allows it:
 * - 'rope': RoPE is a linear map per position, RoPE(r·q) = r·RoPE(q), so q and k can be rotated
 *   raw (needs rotary positions, q and k projections among the consumers, no bias on them, no
 *   per-head q/k norm in between);
 * - 'attention': r_i·r_j on the logits before exp, v's r_j after the softmax's row sum (q, k, v
 *   without bias; no position bias on the logits);
 * - 'down': ReLU is positively homogeneous, relu(r·a) = r·relu(a) for r > 0 (ReGLU: r²), so the
 *   scale reaches the down projection's output; SiLU and GELU are not.
 * LayerNorm's deferred output r·(x·W̃) + c is not a scale, so it stops at the linear layer.
 */
export function depthRefusal(site: ScaleSource, depth: DeferDepth, layer?: LayerKind, positions?: ModelSpec['positions']): string | null {
  if (depth === 'linear') return null;
  const norm = site.norm;
  if (!norm) return 'a Softmax site has no norm scale to carry further';
  if (norm.kind === 'layernorm') {
    return 'LayerNorm: its deferred output is r·(x·W̃) + c with c = β·W + b (the centring folded into W̃, β and the bias into c); c is not multiplied by r, so what follows would see r·y + c, not a scale of y';
  }
  if (!layer) return `${norm.name} feeds ${names(site.consumers)} outside any layer: there is nothing after it for r to reach`;
  if (depth === 'rope' || depth === 'attention') {
    const qk = site.consumers.filter((l) => QK_ROLES.has(l.role));
    const roles = new Set(qk.map((l) => l.role));
    if (!roles.has('qkv') && !(roles.has('q') && roles.has('k'))) {
      return `${names(site.consumers)} ${isAre(site.consumers, 'is not', 'are not')} the q and k projections of the layer's attention: no RoPE or q·kᵀ follows ${isAre(site.consumers, 'it', 'them')} directly for r to reach`;
    }
    const qkNorms = layer.norms.filter((n) => n.placement === 'qk');
    if (qkNorms.length > 0) {
      return `per-head norms (${qkNorms.map((n) => n.name).join(', ')}) sit between the projections and RoPE: they renormalize every head, which removes r (up to ε) instead of passing it on`;
    }
    const fused = site.consumers.filter((l) => l.role === 'qkv');
    if (fused.length > 0) {
      return `${names(fused)} computes q, k and v in one matmul: its v columns need r right after it, and that split epilogue is not modelled`;
    }
    const carried = depth === 'rope' ? qk : site.consumers.filter((l) => ATTENTION_ROLES.has(l.role));
    const biased = carried.filter((l) => l.bias);
    if (biased.length > 0) {
      const after = depth === 'rope' ? 'RoPE(r·y + b) ≠ r·RoPE(y + b)' : 'the logits and p·V would see r·y + b, not a scale of y';
      return `${names(biased)} ${isAre(biased, 'has', 'have')} a bias: the deferred output r·(x·W′) + b is not a scale of x·W′, so ${after}`;
    }
    if (depth === 'rope' && positions !== 'rope') {
      return `no rotary embedding (positions: ${positions ?? 'not given'}): nothing sits between the projections and q·kᵀ to defer past`;
    }
    if (depth === 'attention' && (positions === 'relative' || positions === 'alibi')) {
      return `the logits also get a ${positions === 'alibi' ? 'ALiBi' : 'relative'} position bias after q·kᵀ, which r_i·r_j must not scale: that form is not modelled`;
    }
    return null;
  }
  const mlpIn = site.consumers.filter((l) => MLP_IN_ROLES.has(l.role));
  if (mlpIn.length === 0) {
    return `${names(site.consumers)} ${isAre(site.consumers, 'is not', 'are not')} the input projection of an MLP: no activation and down projection follow for r to reach`;
  }
  if (layer.mlp.kind === 'moe' || site.consumers.some((l) => l.role === 'router')) {
    return 'routed experts: each token goes to the experts its router picks from the scaled logits; carrying r to the experts\' down projections is not modelled';
  }
  if (layer.mlp.activationKind !== 'relu') {
    const act = layer.mlp.activation;
    return `${act} is not positively homogeneous: ${act}(r·a) ≠ r·${act}(a), so r cannot pass the activation (ReLU can: relu(r·a) = r·relu(a) for r > 0)`;
  }
  const biased = mlpIn.filter((l) => l.bias);
  if (biased.length > 0) {
    return `${names(biased)} ${isAre(biased, 'has', 'have')} a bias: relu(r·a + b) ≠ r·relu(a + b), so the scale cannot pass the activation`;
  }
  if (!layer.linears.some((l) => l.role === 'down')) return 'the layer has no down projection for r to reach';
  return null;
}

/** The depths a norm site allows, shallowest first, and why its scale stops at the deepest of them. */
export function deferDepths(site: ScaleSource, layer: LayerKind | undefined, positions: ModelSpec['positions']): { depths: DeferDepth[]; limit: string } {
  const refusal = (d: DeferDepth) => depthRefusal(site, d, layer, positions);
  const toAttention = site.consumers.some((l) => QK_ROLES.has(l.role));
  const chain: DeferDepth[] = toAttention ? ['rope', 'attention'] : site.consumers.some((l) => MLP_IN_ROLES.has(l.role)) ? ['down'] : ['attention'];
  const depths: DeferDepth[] = ['linear', ...chain.filter((d) => refusal(d) === null)];
  const last = chain[chain.length - 1]!;
  const limit =
    refusal(last) ??
    (last === 'attention'
      ? "inside the attention the scales are needed before the softmax's exp, which is not linear"
      : 'the down projection feeds the residual sum, which needs the scaled value');
  return { depths, limit };
}

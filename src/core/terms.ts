/**
 * The shared vocabulary of the core: the words the workload, the graph, the simulator, the numerics
 * check, the reports and the extension all use, defined once. This module imports nothing, so any
 * module may import it without making a cycle (test/unit/import-cycles.test.ts).
 */

/** Prefill of a prompt, or one decode step against a KV cache. */
export type Phase = 'prefill' | 'decode';
export const PHASES: readonly Phase[] = ['prefill', 'decode'];

/** How the deferred Softmax picks its offset c (DESIGN.md §1). */
export type SoftmaxOffset = 'exact' | 'bound' | 'online';
export const SOFTMAX_OFFSETS: readonly SoftmaxOffset[] = ['exact', 'bound', 'online'];

/**
 * How far a deferred norm's per-row scale r travels before it is applied (beyond both papers):
 * `linear`: on each consumer's output (FlashNorm, Salmani & Soloveychik);
 * `rope`: q and k are rotated raw and scaled after RoPE, a linear map per position, so RoPE(r·q) = r·RoPE(q);
 * `attention`: q's scale multiplies its row of logits and k's its column, before the softmax's exp;
 * `down`: through a ReLU MLP, ReLU(r·a) = r·ReLU(a) for r ≥ 0, onto the down projection's output.
 */
export type DeferDepth = 'linear' | 'rope' | 'attention' | 'down';

/** How far deferred scales may travel: as deep as the algebra allows, or the papers' rewrite (the linear layer). */
export type DeferDepthLimit = 'deepest' | 'linear';
export const DEFER_DEPTH_LIMITS: readonly DeferDepthLimit[] = ['deepest', 'linear'];

/** What a rewrite site normalizes. */
export type SiteKind = 'rmsnorm' | 'layernorm' | 'softmax';

/** What the simulation decided for a site: deferred, kept (deferring did not pay), or not a candidate. */
export type Decision = 'defer' | 'keep' | 'ineligible';

/**
 * The largest workload a pass may ask for, per field: the one table the core's validateWorkload, the
 * extension's settings and the webview protocol all check against.
 */
export const WORKLOAD_LIMITS = { batch: 1 << 16, seq: 1 << 24, context: 1 << 24, tp: 1024, tiles: 64 } as const;

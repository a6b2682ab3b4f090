/**
 * What a read-only `deferred-norm:` document shows, carried in its URI so that an
 * editor restored after a reload can be rebuilt. Pure: no vscode.
 */
import { parseKernelOverrides, parseWorkloadInput, type KernelOverrides, type WorkloadInput } from '../common/protocol';

export const DOCUMENT_SCHEME = 'deferred-norm';

/** One side of a site's (or a whole layer's) rewrite. */
export interface PseudocodeRef {
  kind: 'pseudocode';
  modelPath: string;
  hardware: string;
  workload: WorkloadInput;
  /** The report panel's kernel choices over the profile's, when it made any. */
  kernels?: KernelOverrides;
  layerKind: string;
  /** A site id, or null for the whole layer. */
  site: string | null;
  side: 'before' | 'after';
}

/** One model on every hardware profile. */
export interface ComparisonRef {
  kind: 'comparison';
  modelPath: string;
  workload: WorkloadInput;
}

/** Compare Models: two runs side by side on one machine, the first the panel's (or the chosen model's). */
export interface ModelsComparisonRef {
  kind: 'models';
  modelPath: string;
  workload: WorkloadInput;
  hardware: string;
  /** The panel's kernel choices over the profile's, applied to both runs. */
  kernels?: KernelOverrides;
  /** The second run: another model, or the same at another workload. */
  other: { modelPath: string; workload: WorkloadInput };
}

export type DocumentRef = PseudocodeRef | ComparisonRef | ModelsComparisonRef;

const clean = (s: string) => s.replace(/[^\w.-]+/g, '_');

/** The path people see in the editor's tab: readable, with an extension that picks the highlighting. */
export function refPath(ref: DocumentRef, modelTitle: string): string {
  if (ref.kind === 'comparison') return `/${clean(modelTitle)}/hardware-comparison.md`;
  if (ref.kind === 'models') return `/${clean(modelTitle)}/model-comparison.md`;
  return `/${clean(modelTitle)}/${clean(ref.layerKind)}/${clean(ref.site ?? 'block')}.${ref.side === 'before' ? 'baseline' : 'deferred'}.py`;
}

export function refQuery(ref: DocumentRef): string {
  return JSON.stringify(ref);
}

export function parseRefQuery(query: string): DocumentRef | null {
  let v: unknown;
  try {
    v = JSON.parse(query);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const r = v as Record<string, unknown>;
  const str = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length < 4096;
  const workload = parseWorkloadInput(r['workload']);
  if (!workload || !str(r['modelPath'])) return null;
  if (r['kind'] === 'comparison') return { kind: 'comparison', modelPath: r['modelPath'], workload };
  if (r['kind'] === 'models') {
    const other = r['other'];
    if (typeof other !== 'object' || other === null || Array.isArray(other)) return null;
    const o = other as Record<string, unknown>;
    const otherWorkload = parseWorkloadInput(o['workload']);
    const kernels = parseKernelOverrides(r['kernels']);
    if (!otherWorkload || !str(o['modelPath']) || !str(r['hardware']) || !kernels) return null;
    const overrides = kernels.attention !== null || kernels.norm !== null ? { kernels } : {};
    return { kind: 'models', modelPath: r['modelPath'], workload, hardware: r['hardware'], ...overrides, other: { modelPath: o['modelPath'], workload: otherWorkload } };
  }
  if (r['kind'] !== 'pseudocode' || !str(r['hardware']) || !str(r['layerKind'])) return null;
  const site = r['site'];
  const side = r['side'];
  if (!(site === null || str(site)) || (side !== 'before' && side !== 'after')) return null;
  const kernels = parseKernelOverrides(r['kernels']);
  if (!kernels) return null;
  const overrides = kernels.attention !== null || kernels.norm !== null ? { kernels } : {};
  return { kind: 'pseudocode', modelPath: r['modelPath'], hardware: r['hardware'], workload, ...overrides, layerKind: r['layerKind'], site, side };
}

/**
 * Matches what the scanner found in a modeling file to the sites of the config's report,
 * by the model's own module names. Pure: no vscode, no parser. Where a name does not match
 * a site, or the file gives no evidence it is this model's code, nothing is returned.
 */
import type { LayerKindResult, Report, SiteResult } from '../../core/report/types';
import type { FunctionDefinition, ModelingScan, SourceSpan } from './scan-types';

/** One site of one layer kind of the report. */
export interface SiteInLayerKind {
  layerKind: string;
  layerKindLabel: string;
  /** How many layers of the model are of this kind: the factor from "per layer" to "per pass". */
  layerCount: number;
  site: SiteResult;
}

export type MatchedAt = 'call' | 'definition' | 'softmax';

/** A place in the file that is a site: the word to hover and the site(s) it is, one per layer kind. */
export interface SiteMatch {
  at: MatchedAt;
  /** The module's name (`input_layernorm`) or `softmax`. */
  moduleName: string;
  nameSpan: SourceSpan;
  /** The whole call (or definition line) the word belongs to. */
  span: SourceSpan;
  sites: SiteInLayerKind[];
}

const isNormLike = (callee: string): boolean => /norm/i.test(callee.split('.').pop() ?? '');

function normSitesByName(report: Report): Map<string, SiteInLayerKind[]> {
  const out = new Map<string, SiteInLayerKind[]>();
  for (const lk of report.layerKinds) {
    for (const site of lk.sites) {
      // The report names each norm site's module (`input_layernorm`); a Softmax site has none.
      const name = site.norm;
      if (name === null) continue;
      out.set(name, [...(out.get(name) ?? []), inLayerKind(lk, site)]);
    }
  }
  return out;
}

const inLayerKind = (lk: LayerKindResult, site: SiteResult): SiteInLayerKind => ({ layerKind: lk.id, layerKindLabel: lk.label, layerCount: lk.layers.length, site });

/**
 * Every call and definition of a norm module that is one of the report's sites, and every
 * softmax whose result is multiplied with V. A norm matches only if the file defines it
 * with a norm constructor (`self.ln_1 = nn.LayerNorm(…)`) and names at least one of the
 * site's consumers (`q_proj`, `c_attn`, `lm_head`): a generic `self.norm(x)` in unrelated
 * code next to a config says nothing.
 */
export function matchSites(scan: ModelingScan, report: Report): SiteMatch[] {
  const byName = normSitesByName(report);
  const names = new Set(scan.names);
  const normDefined = new Map<string, boolean>();
  for (const def of scan.definitions) {
    // One non-norm definition of the name (e.g. `self.norm = None` aside) must not veto a real one.
    const norm = def.constructors.some(isNormLike);
    normDefined.set(def.attribute, (normDefined.get(def.attribute) ?? false) || norm);
  }
  const evidenced = (sites: SiteInLayerKind[]): SiteInLayerKind[] => sites.filter((s) => s.site.consumers.length === 0 || s.site.consumers.some((c) => names.has(c)));

  const matches: SiteMatch[] = [];
  for (const def of scan.definitions) {
    const sites = evidenced(byName.get(def.attribute) ?? []);
    if (sites.length > 0 && def.constructors.some(isNormLike)) matches.push({ at: 'definition', moduleName: def.attribute, nameSpan: def.nameSpan, span: def.nameSpan, sites });
  }
  for (const call of scan.calls) {
    const sites = evidenced(byName.get(call.attribute) ?? []);
    if (sites.length > 0 && normDefined.get(call.attribute) === true) matches.push({ at: 'call', moduleName: call.attribute, nameSpan: call.nameSpan, span: call.callSpan, sites });
  }
  const softmaxSites = report.layerKinds.flatMap((lk) => lk.sites.filter((s) => s.kind === 'softmax').map((s) => inLayerKind(lk, s)));
  if (softmaxSites.length > 0) {
    for (const sm of scan.softmaxes) matches.push({ at: 'softmax', moduleName: 'softmax', nameSpan: sm.nameSpan, span: sm.callSpan, sites: softmaxSites });
  }
  return matches.sort((a, b) => a.nameSpan.start - b.nameSpan.start);
}

/** The match whose word or call contains the offset; the innermost (shortest) wins for nested calls. */
export function matchAt(matches: readonly SiteMatch[], offset: number): SiteMatch | undefined {
  const containing = matches.filter((m) => (m.nameSpan.start <= offset && offset <= m.nameSpan.end) || (m.at !== 'definition' && m.span.start <= offset && offset < m.span.end));
  const onWord = containing.find((m) => m.nameSpan.start <= offset && offset <= m.nameSpan.end);
  return onWord ?? containing.sort((a, b) => a.span.end - a.span.start - (b.span.end - b.span.start))[0];
}

/** The sites one function's calls reach, per layer kind, for a CodeLens above it. */
export interface FunctionSummary {
  fn: FunctionDefinition;
  layerKinds: {
    layerKind: string;
    layerKindLabel: string;
    layerCount: number;
    sites: SiteResult[];
    deferred: number;
    /** Sum of the deferred sites' savings (µs per layer of this kind). */
    savedUsPerLayer: number;
  }[];
}

/** Functions whose own body (not a nested function's) calls sites; definitions in `__init__` do not count. */
export function summarizeFunctions(scan: ModelingScan, matches: readonly SiteMatch[]): FunctionSummary[] {
  const owner = innermostFunctions(scan.functions, matches.filter((m) => m.at !== 'definition'));
  const inside = new Map<FunctionDefinition, SiteMatch[]>();
  for (const m of matches) {
    const fn = owner.get(m);
    if (!fn) continue;
    const calls = inside.get(fn);
    if (calls) calls.push(m);
    else inside.set(fn, [m]);
  }
  const out: FunctionSummary[] = [];
  for (const fn of scan.functions) {
    const calls = inside.get(fn);
    if (!calls) continue;
    const perKind = new Map<string, FunctionSummary['layerKinds'][number]>();
    for (const { layerKind, layerKindLabel, layerCount, site } of calls.flatMap((m) => m.sites)) {
      const entry = perKind.get(layerKind) ?? { layerKind, layerKindLabel, layerCount, sites: [], deferred: 0, savedUsPerLayer: 0 };
      perKind.set(layerKind, entry);
      if (entry.sites.some((s) => s.id === site.id)) continue; // a site called twice is one site
      entry.sites.push(site);
      if (site.decision === 'defer') {
        entry.deferred += 1;
        entry.savedUsPerLayer += site.savedUs;
      }
    }
    out.push({ fn, layerKinds: [...perKind.values()] });
  }
  return out;
}

/**
 * The innermost function around each match (or call), in one sweep over both sorted by start: functions nest
 * (a syntax tree's), so the open ones form a stack. Checking every function against every match
 * took the host's thread 300+ ms on a 1.6 MB file (3,000 functions × 2,000 matches).
 */
function innermostFunctions<T extends { span: SourceSpan }>(functions: readonly FunctionDefinition[], matches: readonly T[]): Map<T, FunctionDefinition> {
  const fns = [...functions].sort((a, b) => a.span.start - b.span.start || b.span.end - a.span.end);
  const byStart = [...matches].sort((a, b) => a.span.start - b.span.start);
  const open: FunctionDefinition[] = [];
  const owner = new Map<T, FunctionDefinition>();
  let next = 0;
  for (const m of byStart) {
    for (; next < fns.length && fns[next]!.span.start <= m.span.start; next++) {
      const fn = fns[next]!;
      while (open.length > 0 && open.at(-1)!.span.end <= fn.span.start) open.pop();
      open.push(fn);
    }
    while (open.length > 0 && open.at(-1)!.span.end <= m.span.start) open.pop();
    // The innermost open function that holds the whole call.
    for (let k = open.length - 1; k >= 0; k--) {
      if (m.span.end <= open[k]!.span.end) {
        owner.set(m, open[k]!);
        break;
      }
    }
  }
  return owner;
}

/**
 * What matchSites and summarizeFunctions can use of a scan, whatever the report: the definitions
 * with a norm constructor, the calls of attributes so defined, the softmaxes, the innermost function
 * around each of those calls, and the names. The editor worker sends this, not the whole scan: a
 * 1.6 MB file's whole scan is 2.3 MB structured-cloned, 17–30 ms of the host's thread to take.
 */
export function candidatesOf(scan: ModelingScan): ModelingScan {
  const definitions = scan.definitions.filter((d) => d.constructors.some(isNormLike));
  const normAttributes = new Set(definitions.map((d) => d.attribute));
  const calls = scan.calls.filter((c) => normAttributes.has(c.attribute));
  const owners = innermostFunctions(scan.functions, [...calls.map((c) => ({ span: c.callSpan })), ...scan.softmaxes.map((sm) => ({ span: sm.callSpan }))]);
  const owning = new Set(owners.values());
  return { calls, definitions, softmaxes: scan.softmaxes, functions: scan.functions.filter((f) => owning.has(f)), names: scan.names };
}

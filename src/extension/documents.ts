import * as vscode from 'vscode';
import type { Report } from '../core/report/types';
import { loadCore } from './core';
import { DOCUMENT_SCHEME, parseRefQuery, refPath, refQuery, type ComparisonRef, type DocumentRef, type ModelsComparisonRef, type PseudocodeRef } from './document-refs';
import { hardwareChoices, resolveHardware } from './hardware';
import { log } from './log';
import { modelTitle } from './model-files';
import { VALIDATION_URI, validationText } from './validation';

/** Read-only documents rebuilt from the core on demand: pseudo-code sides and hardware comparisons. */
export class ReadonlyDocuments implements vscode.TextDocumentContentProvider {
  async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
    if (uri.path === VALIDATION_URI.path) return validationText();
    const ref = parseRefQuery(uri.query);
    if (!ref) return 'This document cannot be rebuilt from its address; open it again from the report.';
    try {
      if (ref.kind === 'comparison') return await comparisonText(ref, token);
      if (ref.kind === 'models') return await modelsComparisonText(ref);
      return await pseudocodeText(ref);
    } catch (err) {
      // The editor shows the text; the bad-input line is what the user needs to see there.
      const message = err instanceof Error ? err.message : String(err);
      log().warn(`${uri.toString()}: ${message}`);
      return `Could not build this document: ${message}`;
    }
  }
}

async function pseudocodeText(ref: PseudocodeRef): Promise<string> {
  const core = loadCore();
  const spec = await core.loadModel(ref.modelPath);
  const view = core.buildPanelView(spec, await resolveHardware(ref.hardware), ref.workload, { hardware: ref.hardware, hardwareChoices: [], interactive: false, numerics: null, sweep: null, kernels: ref.kernels });
  return pickCode(view.report, ref) ?? `# ${ref.layerKind}: this model has no site "${ref.site ?? ''}".`;
}

function pickCode(report: Report, ref: PseudocodeRef): string | undefined {
  if (ref.site === null) {
    const block = report.pseudocodeBlocks?.find((b) => b.layerKind === ref.layerKind);
    return block && (ref.side === 'before' ? block.baseline : block.deferred);
  }
  const site = report.pseudocode?.find((p) => p.layerKind === ref.layerKind && p.site === ref.site);
  return site && (ref.side === 'before' ? site.before : site.after);
}

/** Every preset and workspace profile; a profile file that does not validate is listed as not compared. */
async function comparisonText(ref: ComparisonRef, token: vscode.CancellationToken): Promise<string> {
  const core = loadCore();
  const spec = await core.loadModel(ref.modelPath);
  const machines = [];
  const unreadable: { hardware: string; reason: string }[] = [];
  for (const choice of await hardwareChoices()) {
    if (token.isCancellationRequested) break;
    try {
      machines.push(await resolveHardware(choice.id));
    } catch (err) {
      unreadable.push({ hardware: choice.label, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  const workload = core.workloadOf(ref.workload);
  const result = core.compareHardware(spec, machines, workload);
  result.skipped.push(...unreadable);
  return core.formatComparisonMarkdown(spec.name, core.workloadLine(workload), result);
}

/** Two runs on the panel's hardware and kernels: the first model at its workload, the second model (or the same) at its own. */
async function modelsComparisonText(ref: ModelsComparisonRef): Promise<string> {
  const core = loadCore();
  const hardware = core.withKernelOverrides(await resolveHardware(ref.hardware), ref.kernels ?? { attention: null, norm: null });
  const first = await core.loadModel(ref.modelPath);
  const second = ref.other.modelPath === ref.modelPath ? first : await core.loadModel(ref.other.modelPath);
  const result = core.compareRuns([
    { spec: first, hardware, workload: core.workloadOf(ref.workload) },
    { spec: second, hardware, workload: core.workloadOf(ref.other.workload, 'second workload') },
  ]);
  return core.formatRunsMarkdown(result);
}

export function documentUri(ref: DocumentRef): vscode.Uri {
  return vscode.Uri.from({ scheme: DOCUMENT_SCHEME, path: refPath(ref, modelTitle(ref.modelPath)), query: refQuery(ref) });
}

/** VS Code's own diff editor: the usual schedule on the left, the deferred one on the right. */
export async function openPseudocodeDiff(base: Omit<PseudocodeRef, 'side' | 'kind'>, label: string): Promise<void> {
  const left = documentUri({ kind: 'pseudocode', ...base, side: 'before' });
  const right = documentUri({ kind: 'pseudocode', ...base, side: 'after' });
  await vscode.commands.executeCommand('vscode.diff', left, right, `${label} (baseline ↔ deferred)`, { preview: true });
}

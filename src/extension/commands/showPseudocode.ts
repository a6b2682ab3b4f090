import * as vscode from 'vscode';
import { openPseudocodeDiff } from '../documents';
import type { ReportPanel } from '../panel/reportPanel';
import { prompts } from '../prompts';
import { targetPanel } from '../targets';

interface CodeItem extends vscode.QuickPickItem {
  layerKind: string;
  site: string | null;
}

/** Show Rewritten Pseudo-code: the diff of one site, or of a whole layer, picked from the report. */
export async function showPseudocode(uri?: vscode.Uri): Promise<boolean> {
  const panel = await targetPanel(uri);
  const report = panel?.currentView()?.report;
  if (!panel || !report) return false;
  const items: CodeItem[] = [
    ...(report.pseudocode ?? []).map((p) => ({ label: `$(symbol-function) ${p.name}`, description: `${p.layerKind} · ${p.decision}`, layerKind: p.layerKind, site: p.site })),
    ...(report.pseudocodeBlocks ?? []).map((b) => ({ label: `$(list-flat) Whole layer: ${b.layerKind}`, description: 'every op, in simulated order', layerKind: b.layerKind, site: null })),
  ];
  const picked = await prompts().pickOne(items, { title: 'Rewritten pseudo-code: baseline ↔ deferred', matchOnDescription: true });
  if (!picked) return false;
  await openDiffFor(panel, picked.layerKind, picked.site);
  return true;
}

/** The diff of one site (or the whole layer when site is null) with the panel's hardware, kernel choices and workload. */
export async function openDiffFor(panel: ReportPanel, layerKind: string, site: string | null): Promise<void> {
  const report = panel.currentView()?.report;
  const name = site === null ? `${layerKind} layer` : (report?.pseudocode?.find((p) => p.layerKind === layerKind && p.site === site)?.name ?? site);
  const kernels = panel.kernels.attention !== null || panel.kernels.norm !== null ? { kernels: panel.kernels } : {};
  await openPseudocodeDiff({ modelPath: panel.modelPath, hardware: panel.hardware, workload: panel.workload, ...kernels, layerKind, site }, name);
}

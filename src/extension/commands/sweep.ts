import * as vscode from 'vscode';
import type { SweepAxis, SweepView } from '../../common/protocol';
import { prompts } from '../prompts';
import { targetPanel } from '../targets';

const AXES: { axis: SweepAxis; label: string; description: string }[] = [
  { axis: 'context', label: 'Context length', description: 'decode: tokens already cached, 256 … 131,072' },
  { axis: 'seq', label: 'Sequence length', description: 'prefill: prompt tokens, 128 … 32,768' },
  { axis: 'batch', label: 'Batch', description: '1 … 256' },
  { axis: 'tp', label: 'Tensor parallelism', description: 'degrees that split the heads evenly, 1 … 64' },
];

/** Sweep: savings along one workload axis, drawn in the panel. */
export async function sweep(uri?: vscode.Uri): Promise<SweepView | undefined> {
  const panel = await targetPanel(uri);
  if (!panel) return undefined;
  // The axis that matters for the panel's phase comes first.
  const ordered = panel.workload.phase === 'prefill' ? [AXES[1]!, AXES[0]!, AXES[2]!, AXES[3]!] : AXES;
  const picked = await prompts().pickOne(ordered, { title: 'Sweep savings against…' });
  if (!picked) return undefined;
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Deferred Norm: sweeping ${picked.label.toLowerCase()}…` }, () => panel.runSweep(picked.axis));
}

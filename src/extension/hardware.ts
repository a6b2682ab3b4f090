import * as vscode from 'vscode';
import type { HardwareProfile } from '../core/hardware/profile';
import type { HardwareChoice } from '../common/protocol';
import { loadCore } from './core';

/** The presets, then every *.hardware.json in the workspace. */
export async function hardwareChoices(): Promise<HardwareChoice[]> {
  const presets: HardwareChoice[] = loadCore()
    .listPresets()
    .map((p) => ({ id: p.name, label: p.name, description: p.title, source: 'preset' }));
  const files = await vscode.workspace.findFiles('**/*.hardware.json', '**/node_modules/**', 100);
  const workspace: HardwareChoice[] = files
    .sort((a, b) => a.fsPath.localeCompare(b.fsPath))
    .map((uri) => ({ id: uri.toString(), label: vscode.workspace.asRelativePath(uri), description: 'workspace profile', source: 'workspace' }));
  return [...presets, ...workspace];
}

/** A preset by name, or a profile file by URI, read through the core's bounded file edge and validated. */
export async function resolveHardware(id: string): Promise<HardwareProfile> {
  const core = loadCore();
  if (core.isPresetName(id)) return core.getPreset(id);
  const uri = vscode.Uri.parse(id);
  if (uri.scheme !== 'file') throw new core.InputError(id, '', 'a hardware profile file on this machine (*.hardware.json) or a preset name');
  return core.readHardwareProfileFile(uri.fsPath);
}

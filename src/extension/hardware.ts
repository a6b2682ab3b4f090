import * as vscode from 'vscode';
import type { HardwareProfile } from '../core/hardware/profile';
import type { HardwareChoice } from '../common/protocol';
import { loadCore } from './core';

const SELECTED_KEY = 'deferredNorm.hardware';
let state: vscode.Memento | undefined;
const hardwareChanged = new vscode.EventEmitter<string>();
/** Fires with the new id when the user picks the workspace's hardware (hovers and lenses follow it). */
export const onDidChangeHardware = hardwareChanged.event;

export function initHardware(workspaceState: vscode.Memento): void {
  state = workspaceState;
}

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

/** The hardware chosen for this workspace: the last selection, else the setting, else the default preset. */
export function chosenHardware(): string {
  const selected = state?.get<string>(SELECTED_KEY);
  if (selected) return selected;
  const setting = vscode.workspace.getConfiguration('deferredNorm').get<string>('hardware');
  if (setting && setting.trim() !== '') {
    if (loadCore().isPresetName(setting)) return setting;
    const folder = vscode.workspace.workspaceFolders?.[0];
    const uri = /^[a-z][a-z0-9+.-]*:/i.test(setting) && !/^[a-z]:[\\/]/i.test(setting) ? vscode.Uri.parse(setting) : folder && !setting.startsWith('/') ? vscode.Uri.joinPath(folder.uri, setting) : vscode.Uri.file(setting);
    return uri.toString();
  }
  return loadCore().DEFAULT_HARDWARE;
}

export async function rememberHardware(id: string): Promise<void> {
  await state?.update(SELECTED_KEY, id);
  hardwareChanged.fire(id);
}

/** A preset by name, or a profile file by URI, read through the core's bounded file edge and validated. */
export async function resolveHardware(id: string): Promise<HardwareProfile> {
  const core = loadCore();
  if (core.isPresetName(id)) return core.getPreset(id);
  const uri = vscode.Uri.parse(id);
  if (uri.scheme !== 'file') throw new core.InputError(id, '', 'a hardware profile file on this machine (*.hardware.json) or a preset name');
  return core.readHardwareProfileFile(uri.fsPath);
}

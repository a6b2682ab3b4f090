/**
 * The current choice of hardware and workload lives here and only here (issue 20): one object in the
 * workspace's state, seeded from the deferredNorm.* settings. The panel's controls, Select Hardware
 * Profile and a changed setting write it; the report panels, the config.json hovers, CodeLens and
 * status bar, the modeling hints, the model viewer, Compare, Sweep, Export, Select Hardware's tick and
 * the chat tool read it, and onDidChangeChoice tells them when it changes. So every surface shows the
 * same answer: a panel moved to gpu-h100 batch 1 moves the CodeLens beside it too.
 */
import * as vscode from 'vscode';
import { parseWorkloadInput, type WorkloadInput } from '../common/protocol';
import { loadCore } from './core';
import { log } from './log';
import { mergeSettingsChange, workloadFromSettings } from './settings';

export interface Choice {
  /** A preset name or a *.hardware.json file's URI. */
  hardware: string;
  workload: WorkloadInput;
}

const CHOICE_KEY = 'deferredNorm.choice';
/** Where Select Hardware Profile kept its pick before the choice held the workload too. */
const OLD_HARDWARE_KEY = 'deferredNorm.hardware';
/** The answer to the first-use question, for every workspace of this user (globalState). */
const ASKED_HARDWARE_KEY = 'deferredNorm.firstHardware';

let workspaceState: vscode.Memento | undefined;
let globalState: vscode.Memento | undefined;
const changed = new vscode.EventEmitter<Choice>();
/** Fires with the new choice after any surface changed it. */
export const onDidChangeChoice = changed.event;

export function initChoice(context: Pick<vscode.ExtensionContext, 'workspaceState' | 'globalState'>): vscode.Disposable {
  workspaceState = context.workspaceState;
  globalState = context.globalState;
  return vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration('deferredNorm')) void settingsChanged(e);
  });
}

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('deferredNorm');
}

/** The workload of the deferredNorm.* settings; unusable values are logged and replaced by defaults. */
export function settingsWorkload(): WorkloadInput {
  const settings = config();
  const { workload, ignored } = workloadFromSettings((key) => settings.get(key));
  for (const line of ignored) log().warn(`Setting ignored: ${line}`);
  return workload;
}

/**
 * The deferredNorm.hardware setting as an id (a preset name or a file URI), or undefined when the user has
 * not set it (its declared default is not an answer to which hardware to assume).
 */
function hardwareSetting(): string | undefined {
  const inspected = config().inspect<string>('hardware');
  const setting = inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
  if (!setting || setting.trim() === '') return undefined;
  if (loadCore().isPresetName(setting)) return setting;
  const folder = vscode.workspace.workspaceFolders?.[0];
  const isUri = /^[a-z][a-z0-9+.-]*:/i.test(setting) && !/^[a-z]:[\\/]/i.test(setting);
  const uri = isUri ? vscode.Uri.parse(setting) : folder && !setting.startsWith('/') ? vscode.Uri.joinPath(folder.uri, setting) : vscode.Uri.file(setting);
  return uri.toString();
}

function storedChoice(): Choice | undefined {
  const raw = workspaceState?.get<unknown>(CHOICE_KEY);
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { hardware, workload } = raw as Record<string, unknown>;
  const parsed = parseWorkloadInput(workload);
  return typeof hardware === 'string' && hardware.length > 0 && parsed ? { hardware, workload: parsed } : undefined;
}

/** The hardware when nothing was chosen in this workspace: the setting, the first-use answer, the default preset. */
function defaultHardware(): string {
  const old = workspaceState?.get<string>(OLD_HARDWARE_KEY);
  const asked = globalState?.get<string>(ASKED_HARDWARE_KEY);
  return (old || undefined) ?? hardwareSetting() ?? (asked || undefined) ?? loadCore().DEFAULT_HARDWARE;
}

/** What every surface shows now. */
export function currentChoice(): Choice {
  return storedChoice() ?? { hardware: defaultHardware(), workload: settingsWorkload() };
}

export function chosenHardware(): string {
  return currentChoice().hardware;
}

/** Makes a choice current (a panel's controls, Select Hardware); every surface follows. */
export async function setChoice(next: Partial<Choice>): Promise<Choice> {
  const choice = { ...currentChoice(), ...next };
  await workspaceState?.update(CHOICE_KEY, choice);
  changed.fire(choice);
  return choice;
}

/** A changed setting replaces that part of the choice; the rest stays as chosen. */
async function settingsChanged(e: vscode.ConfigurationChangeEvent): Promise<void> {
  const stored = storedChoice();
  if (!stored) {
    // Nothing chosen in this workspace: the settings are the choice already.
    changed.fire(currentChoice());
    return;
  }
  const workload = mergeSettingsChange(stored.workload, settingsWorkload(), (setting) => e.affectsConfiguration(`deferredNorm.${setting}`));
  const hardware = e.affectsConfiguration('deferredNorm.hardware') ? (hardwareSetting() ?? loadCore().DEFAULT_HARDWARE) : stored.hardware;
  await setChoice({ hardware, workload });
}

/**
 * Whether to ask which hardware to assume: never asked this user, nothing chosen in this workspace
 * and no hardware setting. The estimates differ tenfold between presets (Qwen3-8B: 20.3% on dimc,
 * 2.4% on gpu-h100), so a silent default would be the first, wrong, thing a GPU user reads.
 */
export function shouldAskHardware(): boolean {
  return !globalState?.get<string>(ASKED_HARDWARE_KEY) && !storedChoice() && !workspaceState?.get<string>(OLD_HARDWARE_KEY) && hardwareSetting() === undefined;
}

/** Remembers the first-use answer for every workspace of this user (and chooses it here). */
export async function rememberFirstHardware(id: string): Promise<void> {
  await globalState?.update(ASKED_HARDWARE_KEY, id);
  await setChoice({ hardware: id });
}

export function chosenWorkload(): WorkloadInput {
  return currentChoice().workload;
}

/** Forgets this workspace's choice: the settings are the choice again (the extension-host tests' seam). */
export async function resetChoice(): Promise<Choice> {
  await workspaceState?.update(CHOICE_KEY, undefined);
  await workspaceState?.update(OLD_HARDWARE_KEY, undefined);
  const choice = currentChoice();
  changed.fire(choice);
  return choice;
}

import * as vscode from 'vscode';
import { chosenHardware, rememberFirstHardware, setChoice, shouldAskHardware } from '../choice';
import { hardwareChoices } from '../hardware';
import { ReportPanel } from '../panel/reportPanel';
import { prompts } from '../prompts';

/** Select Hardware Profile: presets and the workspace's *.hardware.json; remembered per workspace; the tick marks the current choice (choice.ts). */
export async function selectHardware(): Promise<string | undefined> {
  const current = chosenHardware();
  const choices = await hardwareChoices();
  const items = choices.map((c) => ({
    label: c.id === current ? `$(check) ${c.label}` : c.label,
    description: c.description,
    detail: c.source === 'workspace' ? vscode.Uri.parse(c.id).fsPath : undefined,
    id: c.id,
  }));
  const picked = await prompts().pickOne(items, { title: 'Hardware profile to simulate', placeHolder: 'Presets ship with the extension; *.hardware.json files come from the workspace', matchOnDescription: true });
  if (!picked) return undefined;
  await ReportPanel.followChoice(await setChoice({ hardware: picked.id }));
  return picked.id;
}

export const CHOOSE_HARDWARE = 'Choose Hardware…';
let asked = false;

/**
 * On first use (a report or a config's figures), asks once which hardware to assume, without holding
 * up what is being shown: the figures meanwhile name the default preset. Either answer is remembered
 * for this user (choice.ts); a dismissed question is asked again in the next session.
 */
export function askHardwareOnFirstUse(): void {
  if (asked || !shouldAskHardware()) return;
  asked = true;
  const assumed = chosenHardware();
  const keep = `Keep ${assumed}`;
  void prompts()
    .notify(`Deferred Norm: which hardware should the estimates assume? They are for ${assumed} until you choose, and savings differ several-fold between presets.`, [CHOOSE_HARDWARE, keep])
    .then(async (answer) => {
      if (answer === keep) await rememberFirstHardware(assumed);
      if (answer !== CHOOSE_HARDWARE) return;
      const picked = await selectHardware();
      if (picked) await rememberFirstHardware(picked);
    });
}

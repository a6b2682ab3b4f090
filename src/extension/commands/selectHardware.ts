import * as vscode from 'vscode';
import { chosenHardware, hardwareChoices, rememberHardware } from '../hardware';
import { ReportPanel } from '../panel/reportPanel';
import { prompts } from '../prompts';

/** Select Hardware Profile: presets and the workspace's *.hardware.json; remembered per workspace. */
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
  await rememberHardware(picked.id);
  await Promise.all(
    ReportPanel.all().map((panel) => {
      panel.hardware = picked.id;
      return panel.refresh();
    }),
  );
  return picked.id;
}

import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import type { PanelView } from '../../common/protocol';
import { fieldRange } from '../editor/config-keys';
import { log } from '../log';
import { siteCallIn } from '../modeling/features';

/** modeling_*.py files in the config's folder, the modeling code Hugging Face repositories ship beside it. */
async function modelingFilesBeside(configPath: string): Promise<string[]> {
  const names = await readdir(dirname(configPath)).catch(() => []);
  return names.filter((n) => /^modeling_.*\.py$/.test(n)).sort().map((n) => join(dirname(configPath), n));
}

/**
 * The sites table's link: opens the modeling code's call of the site when a modeling_*.py beside the config
 * has one, otherwise the config's line of the first of the site's keys the file holds (at the top level or
 * under text_config). Returns what it opened, or undefined (logged) when the view has no source for the site.
 */
export async function openSiteSource(view: PanelView | undefined, layerKind: string, site: string): Promise<{ uri: vscode.Uri; range: vscode.Range } | undefined> {
  const source = view?.siteSources?.find((s) => s.layerKind === layerKind && s.site === site);
  if (!view || !source) {
    log().warn(`No source to open for site ${site} of ${layerKind}`);
    return undefined;
  }
  for (const path of await modelingFilesBeside(source.configPath)) {
    const document = await vscode.workspace.openTextDocument(path);
    const range = await siteCallIn(document, view.report, layerKind, site);
    if (range) return show(document, range);
  }
  const document = await vscode.workspace.openTextDocument(source.configPath);
  const text = document.getText();
  for (const key of source.keys) {
    const field = fieldRange(text, [key]) ?? fieldRange(text, ['text_config', key]);
    if (field) return show(document, new vscode.Range(document.positionAt(field.property.start), document.positionAt(field.property.end)));
  }
  // The file leaves the key to the family's default: its top is the nearest place.
  log().info(`${source.configPath} holds none of ${source.keys.join(', ')}: opened at its top`);
  return show(document, new vscode.Range(0, 0, 0, 0));
}

async function show(document: vscode.TextDocument, range: vscode.Range): Promise<{ uri: vscode.Uri; range: vscode.Range }> {
  await vscode.window.showTextDocument(document, { selection: range, viewColumn: vscode.ViewColumn.Beside, preview: true });
  return { uri: document.uri, range };
}

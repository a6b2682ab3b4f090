/**
 * A language-model tool for chat: an agent asks "what does deferring the norms save for this
 * model on an H100?" and gets the headline, the per-site tables and the provenance line as text.
 * Bad input is answered with one line of text (the core's file/field/expected), never a throw,
 * so the chat carries on and the model can correct its call.
 */
import { isAbsolute, join } from 'node:path';
import * as vscode from 'vscode';
import { loadCore } from '../core';
import { chosenHardware, chosenWorkload } from '../choice';
import { resolveHardware } from '../hardware';
import { logError } from '../log';
import { parseToolInput, type ParsedToolInput, type ProfileToolInput } from './tool-input';

/** contributes.languageModelTools[].name in package.json. */
export const PROFILE_TOOL_NAME = 'deferred-norm_profile';

/** A path as the agent wrote it: absolute, or relative to the first workspace folder. */
function resolvePath(path: string, field: 'model' | 'hardware'): string {
  if (isAbsolute(path)) return path;
  const folder = vscode.workspace.workspaceFolders?.[0];
  const { InputError } = loadCore();
  if (!folder) throw new InputError('input', field, 'an absolute path (no workspace folder is open to resolve a relative one)', JSON.stringify(path));
  return join(folder.uri.fsPath, path);
}

/** The hardware id resolveHardware takes (a preset name or a file URI), and how the provenance line names it. */
function hardwareOf(parsed: ParsedToolInput): { id: string; source: string } {
  const core = loadCore();
  const given = parsed.hardware;
  if (given === null) {
    const id = chosenHardware();
    return { id, source: core.isPresetName(id) ? 'the workspace’s chosen preset' : `the workspace’s chosen profile file ${vscode.Uri.parse(id).fsPath}` };
  }
  if (core.isPresetName(given)) return { id: given, source: 'preset' };
  const file = resolvePath(given, 'hardware');
  return { id: vscode.Uri.file(file).toString(), source: `profile file ${file}` };
}

/** The answer's text parts; throws InputError on bad input (turned into one line by invoke). */
export async function profileToolText(raw: unknown): Promise<string[]> {
  const core = loadCore();
  const parsed = parseToolInput(raw, chosenWorkload());
  const hardware = hardwareOf(parsed);
  const hw = await resolveHardware(hardware.id);
  const spec = await core.loadModel(resolvePath(parsed.model, 'model'));
  const report = core.profileChecked(spec, hw, core.workloadOf(parsed.workload, 'input'));
  return core.chatParts(report, hardware.source);
}

class ProfileTool implements vscode.LanguageModelTool<ProfileToolInput> {
  prepareInvocation(options: vscode.LanguageModelToolInvocationPrepareOptions<ProfileToolInput>): vscode.PreparedToolInvocation {
    const input = options.input as Partial<ProfileToolInput> | undefined;
    const model = typeof input?.model === 'string' ? input.model : 'a model';
    const hardware = typeof input?.hardware === 'string' ? input.hardware : 'the chosen hardware';
    return { invocationMessage: `Simulating deferred norms of ${model} on ${hardware}` };
  }

  async invoke(options: vscode.LanguageModelToolInvocationOptions<ProfileToolInput>): Promise<vscode.LanguageModelToolResult> {
    try {
      const parts = await profileToolText(options.input);
      return new vscode.LanguageModelToolResult(parts.map((text) => new vscode.LanguageModelTextPart(text)));
    } catch (err) {
      const line = logError(err, `Chat tool ${PROFILE_TOOL_NAME}`);
      return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(`Error: ${line}`)]);
    }
  }
}

export function registerProfileTool(): vscode.Disposable {
  return vscode.lm.registerTool(PROFILE_TOOL_NAME, new ProfileTool());
}

/**
 * Which Python the extension runs PyTorch with (Export PyTorch Patch…, Measure on This Machine): the
 * finder's order (src/common/python-finder.ts) with the deferredNorm.python setting and the Python
 * extension's interpreter, each probe in the log. Callers ask only in a trusted workspace.
 */
import * as vscode from 'vscode';
import { interpreterFromPythonApi, probedLines, type ProbedPython, type TorchPython } from '../common/python-finder';
import { findPython } from '../cli/python-probe';
import { log } from './log';

/** The interpreter the Python extension selected, through its API when it is installed (either API generation); null otherwise. */
async function pythonExtensionInterpreter(resource: vscode.Uri): Promise<string | null> {
  const ext = vscode.extensions.getExtension('ms-python.python');
  if (!ext) return null;
  try {
    const api: unknown = ext.isActive ? ext.exports : await ext.activate();
    return await interpreterFromPythonApi(api, resource);
  } catch (err) {
    log().info(`The Python extension's interpreter could not be read: ${err instanceof Error ? err.message : String(err)}`);
  }
  return null;
}

/** The first interpreter, for `resource`'s workspace, that imports torch >= 1.13, and every one probed on the way. */
export async function findWorkspacePython(resource: vscode.Uri): Promise<{ found: TorchPython | null; tried: ProbedPython[] }> {
  const setting = vscode.workspace.getConfiguration('deferredNorm', resource).get<string>('python');
  const result = await findPython({ setting: typeof setting === 'string' ? setting : null, pythonExtension: await pythonExtensionInterpreter(resource) });
  for (const line of probedLines(result.tried)) log().info(`Python ${line}`);
  return result;
}

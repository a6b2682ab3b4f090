/** Which paths are model files the profiler reads. Pure: no vscode, no I/O. */

const MODEL_EXTENSIONS = ['.gguf', '.safetensors'];

export function isModelFileName(path: string): boolean {
  const name = path.replace(/\\/g, '/').split('/').pop()?.toLowerCase() ?? '';
  return name === 'config.json' || MODEL_EXTENSIONS.some((ext) => name.endsWith(ext));
}

/** The file name a model is known by in titles: the folder for a config.json, else the file. */
export function modelTitle(path: string): string {
  const parts = path.replace(/\\/g, '/').split('/').filter((p) => p !== '');
  const last = parts.pop() ?? path;
  return last.toLowerCase() === 'config.json' || last.toLowerCase().endsWith('.safetensors') ? (parts.pop() ?? last) : last;
}

/**
 * Reads a .gguf or .safetensors file's header for the viewer, through the core's bounded file
 * edge (regular files only, bytes capped per kind): never tensor data, whatever the file's size.
 * Part of the core bundle (dist/core.js, re-exported by ../core-api.ts), not of activation.
 */
import { InputError } from '../../core/errors';
import { withByteSource } from '../../core/files';
import { ggufFileHeader, safetensorsFileHeader, type ModelFileHeader } from '../../core/model/file-header';
import { readGgufHeader } from '../../core/model/gguf';
import { readSafetensorsHeader } from '../../core/model/safetensors';

export interface ModelFileRead {
  header: ModelFileHeader;
  /** The file's size in bytes, as the file system reports it (a sparse file's full length). */
  fileBytes: number;
}

export async function readModelFileHeader(path: string): Promise<ModelFileRead> {
  const lower = path.toLowerCase();
  if (lower.endsWith('.gguf')) {
    // The tensor list sits after the vocabulary: walking it costs the metadata's size (a few MB), no more.
    return withByteSource(path, 'gguf', async (src) => ({ header: ggufFileHeader(await readGgufHeader(src, path, { tensors: true })), fileBytes: src.size }));
  }
  if (lower.endsWith('.safetensors')) {
    return withByteSource(path, 'safetensors', async (src) => ({ header: safetensorsFileHeader(await readSafetensorsHeader(src, path)), fileBytes: src.size }));
  }
  throw new InputError(path, '', 'a .gguf or .safetensors file');
}

/**
 * Reads a .gguf or .safetensors file's header for the viewer, through the core's bounded file
 * edge (regular files only, bytes capped per kind): never tensor data, whatever the file's size.
 * The header is read once: the rows the viewer shows and the model it profiles both come from it.
 * Part of the core bundle (dist/core.js, re-exported by ../core-api.ts), not of activation.
 */
import { InputError } from '../../core/errors';
import { withByteSource } from '../../core/files';
import { ggufFileHeader, safetensorsFileHeader, type ModelFileHeader } from '../../core/model/file-header';
import { readGgufHeader, specFromGgufHeader } from '../../core/model/gguf';
import { loadSafetensorsFile, noteWeightsMismatch } from '../../core/model/load';
import { readSafetensorsHeader } from '../../core/model/safetensors';
import type { ModelSpec } from '../../core/model/spec';

export interface ModelFileRead {
  header: ModelFileHeader;
  /** The file's size in bytes, as the file system reports it (a sparse file's full length). */
  fileBytes: number;
  /**
   * The model as `inspect` reads it (loadModel with the GGUF tensor list), built from the header already
   * read; its errors are the profile's, apart from the header's.
   */
  spec(): Promise<ModelSpec>;
}

export async function readModelFileHeader(path: string): Promise<ModelFileRead> {
  const lower = path.toLowerCase();
  if (lower.endsWith('.gguf')) {
    // The tensor list sits after the vocabulary: walking it costs the metadata's size (a few MB), no more.
    const { header, fileBytes } = await withByteSource(path, 'gguf', async (src) => ({ header: await readGgufHeader(src, path, { tensors: true }), fileBytes: src.size }));
    // The tensor list is read anyway: it says whether output.weight exists, so a tied model's embeddings count once.
    return { header: ggufFileHeader(header), fileBytes, spec: async () => {
        const spec = specFromGgufHeader(header, { path, format: 'gguf' });
        noteWeightsMismatch(spec, 'the GGUF tensor list');
        return spec;
      },
    };
  }
  if (lower.endsWith('.safetensors')) {
    const { header, fileBytes } = await withByteSource(path, 'safetensors', async (src) => ({ header: await readSafetensorsHeader(src, path), fileBytes: src.size }));
    return { header: safetensorsFileHeader(header), fileBytes, spec: () => loadSafetensorsFile(path, header) };
  }
  throw new InputError(path, '', 'a .gguf or .safetensors file');
}

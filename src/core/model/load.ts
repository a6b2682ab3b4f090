/**
 * Finds what the user pointed at (config.json, a folder, a .gguf or a .safetensors file), reads as
 * little of it as it can through the bounded file edge (../files.ts: regular files only, bytes capped
 * per kind while reading), and hands bytes or parsed JSON to the pure readers. Uses node:path, so
 * tsconfig.core.json leaves it out of the pure-core check with files.ts.
 */
import { basename, dirname, join } from 'node:path';
import { InputError, describeValue } from '../errors';
import { listFolder, pathKind, readJsonFile, withByteSource } from '../files';
import { isObject } from '../json';
import { ownValue } from '../own';
import { specFromConfig } from './config';
import { specFromGguf } from './gguf';
import { SAFETENSORS_LIMITS, countElements, dominantDtype, readSafetensorsHeader, specFromSafetensors, torchDtypeName, type SafetensorsHeader } from './safetensors';
import type { ModelSpec } from './spec';

/** Bytes per element of a torch dtype name, for index.json's total_size. */
const TORCH_DTYPE_BYTES: Record<string, number> = {
  float32: 4, float: 4, float16: 2, half: 2, bfloat16: 2, float8_e4m3fn: 1, float8_e5m2: 1, int8: 1, uint8: 1,
};

export interface LoadOptions {
  /**
   * GGUF only. 'metadata' (the default) stops once the model's own keys are read: a few KB whatever
   * the file's size. 'tensors' reads on through the vocabulary to the tensor list (never tensor data),
   * which tells tied embeddings and counts the weights: as many MB as the vocabulary takes.
   */
  gguf?: 'metadata' | 'tensors';
}

export async function loadModel(path: string, options: LoadOptions = {}): Promise<ModelSpec> {
  const tensors = options.gguf === 'tensors';
  const kind = await pathKind(path);
  if (kind === 'missing') throw new InputError(path, '', 'an existing file or folder');
  if (kind === 'folder') return loadDirectory(path, tensors);
  // Devices, pipes and sockets are refused by the file edge, naming what they are.
  const lower = path.toLowerCase();
  if (lower.endsWith('.gguf')) return loadGguf(path, tensors);
  if (lower.endsWith('.safetensors')) return loadSafetensorsFile(path);
  // A GGUF file under another name is still a GGUF file.
  const magic = await withByteSource(path, 'config', (src) => src.read(0, 4));
  if (String.fromCharCode(...magic) === 'GGUF') return loadGguf(path, tensors);
  return loadConfigFile(path, 'config.json');
}

async function loadDirectory(dir: string, tensors: boolean): Promise<ModelSpec> {
  const names = await listFolder(dir);
  if (names.includes('config.json')) {
    const spec = await loadConfigFile(join(dir, 'config.json'), 'directory');
    spec.source.path = dir;
    await crossCheckWeights(spec, dir, names);
    return spec;
  }
  const ggufs = names.filter((n) => n.toLowerCase().endsWith('.gguf')).sort();
  if (ggufs.length === 1) return loadGguf(join(dir, ggufs[0]!), tensors);
  if (ggufs.length > 1) {
    throw new InputError(dir, '', 'one model file: several .gguf files are here, name the one to profile', ggufs.slice(0, 4).join(', '));
  }
  const shards = names.filter((n) => n.toLowerCase().endsWith('.safetensors')).sort();
  if (shards.length > 0) {
    const header = await mergedHeaders(dir, shards);
    const spec = specFromSafetensors(header, { path: dir, format: 'directory' }, basename(dir));
    spec.name = basename(dir);
    return spec;
  }
  throw new InputError(dir, 'config.json', 'a config.json, a .gguf file or .safetensors weights in the folder', 'none of them');
}

async function loadConfigFile(path: string, format: 'config.json' | 'directory' | 'safetensors'): Promise<ModelSpec> {
  return specFromConfig(await readJsonFile(path, 'config'), { path, format });
}

async function loadGguf(path: string, tensors: boolean): Promise<ModelSpec> {
  return withByteSource(path, 'gguf', async (src) => {
    const spec = await specFromGguf(src, { path, format: 'gguf' }, { tensors });
    if (tensors) noteWeightsMismatch(spec, 'the GGUF tensor list');
    return spec;
  });
}

/**
 * A .safetensors file: with a config.json beside it, that config; alone, a spec inferred from tensor
 * shapes. `read` is the file's header when the caller has read it already (the model viewer): it is
 * not read again.
 */
export async function loadSafetensorsFile(path: string, read?: SafetensorsHeader): Promise<ModelSpec> {
  const dir = dirname(path);
  const names = await listFolder(dir);
  const known = read ? { name: basename(path), header: read } : undefined;
  if (names.includes('config.json')) {
    const spec = await loadConfigFile(join(dir, 'config.json'), 'safetensors');
    spec.source.path = path;
    await crossCheckWeights(spec, dir, names, known);
    return spec;
  }
  const header = read ?? (await withByteSource(path, 'safetensors', (src) => readSafetensorsHeader(src, path)));
  return specFromSafetensors(header, { path, format: 'safetensors' }, basename(path).replace(/\.safetensors$/i, ''));
}

/**
 * The weights beside a config: model.safetensors.index.json's total_size (bytes,
 * divided by the config's dtype width), or the element counts of every
 * .safetensors header. A note when they disagree with the spec by more than 1%.
 */
async function crossCheckWeights(spec: ModelSpec, dir: string, names: string[], known?: KnownHeader): Promise<void> {
  const index = 'model.safetensors.index.json';
  if (names.includes(index)) {
    const path = join(dir, index);
    try {
      const json = await readJsonFile(path, 'index');
      const metadata = isObject(json) ? ownValue(json, 'metadata') : undefined;
      const total = isObject(metadata) ? ownValue(metadata, 'total_size') : undefined;
      const width = spec.dtype ? ownValue(TORCH_DTYPE_BYTES, spec.dtype) : undefined;
      if (total !== undefined && !(Number.isSafeInteger(total) && (total as number) > 0)) {
        // 1e400 parses as Infinity: a byte count only when it is a whole number JavaScript holds exactly.
        spec.notes.push(`${index}: metadata.total_size is not a positive whole number of bytes (${describeValue(total)}); no weight cross-check.`);
      } else if (typeof total === 'number' && width) {
        spec.paramsFromWeights = Math.round(total / width);
        noteWeightsMismatch(spec, `${index} (total_size ${total.toLocaleString('en')} bytes of ${spec.dtype})`);
      }
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      spec.notes.push(`${index} could not be read (${err.message}); no weight cross-check.`);
    }
    return;
  }
  const shards = names.filter((n) => n.toLowerCase().endsWith('.safetensors')).sort();
  if (shards.length === 0) return;
  const header = await mergedHeaders(dir, shards, known);
  spec.paramsFromWeights = countElements(header);
  if (!spec.dtype) {
    const d = dominantDtype(header);
    if (d) spec.dtype = torchDtypeName(d);
  }
  noteWeightsMismatch(spec, `${shards.length} safetensors header(s)`);
}

/** A shard's header the caller has already read, by its name in the folder. */
interface KnownHeader {
  name: string;
  header: SafetensorsHeader;
}

/** Every shard's header as one (tensors in shard order), within the per-header tensor limit overall. */
async function mergedHeaders(dir: string, shards: string[], known?: KnownHeader): Promise<SafetensorsHeader> {
  const merged: SafetensorsHeader = { tensors: [], metadata: new Map(), headerBytes: 0 };
  for (const shard of shards) {
    const path = join(dir, shard);
    const h = known?.name === shard ? known.header : await withByteSource(path, 'safetensors', (src) => readSafetensorsHeader(src, path));
    if (merged.tensors.length + h.tensors.length > SAFETENSORS_LIMITS.tensors) {
      throw new InputError(dir, '', `at most ${SAFETENSORS_LIMITS.tensors.toLocaleString('en')} tensors over all safetensors shards`, `more by ${shard}`, 'limit');
    }
    // One by one: spreading a shard's list into push() overflows the stack past ~10^5 tensors.
    for (const t of h.tensors) merged.tensors.push(t);
    merged.headerBytes += h.headerBytes;
    for (const [k, v] of h.metadata) merged.metadata.set(k, v);
  }
  return merged;
}

export function noteWeightsMismatch(spec: ModelSpec, from: string): void {
  const w = spec.paramsFromWeights;
  if (w === null || spec.params.total === 0) return;
  const diff = Math.abs(w - spec.params.total) / spec.params.total;
  if (diff > 0.01) {
    spec.notes.push(
      `The weights (${from}) hold ${w.toLocaleString('en')} elements; the spec counts ${spec.params.total.toLocaleString('en')} parameters ` +
        `(${(diff * 100).toFixed(1)}% apart: quantization scales, extra heads or layers not in the inference pass, or a config that does not match).`,
    );
  }
}

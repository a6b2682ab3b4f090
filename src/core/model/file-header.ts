/**
 * What the binary-model viewer shows of a .gguf or .safetensors header: metadata as
 * key/value rows (long arrays such as the vocabulary summarized, never listed), the
 * tensor list (names, shapes, dtypes) and the element count. Pure: the headers come
 * from the bounded readers in gguf.ts and safetensors.ts.
 */
import { ownValue } from '../own';
import { FILE_TYPES, isLongArray, isLongString, product, type GgufHeader, type GgufScalar, type GgufValue } from './gguf';
import { countElements, type SafetensorsHeader } from './safetensors';

/** Tensor rows kept for display; the count of the rest is stated (MoE checkpoints list tens of thousands). */
export const TENSOR_ROWS_SHOWN = 2000;
/** Arrays up to this length are shown inline; longer ones as "array of N …". */
export const INLINE_ARRAY_MAX = 8;
/** Strings (chat templates run to kilobytes) are cut here, with their length stated. */
export const VALUE_TEXT_MAX = 240;

export interface MetadataRow {
  key: string;
  value: string;
}

export interface TensorRow {
  name: string;
  /** "[4096, 14336]", dimensions in the file's own order. */
  shape: string;
  dtype: string;
  elements: number;
}

export interface ModelFileHeader {
  format: 'gguf' | 'safetensors';
  /** "GGUF v3" or "safetensors". */
  formatLabel: string;
  /** Where the dimensions' order needs saying (GGUF lists ne[0], the input width, first). */
  shapeOrder: string;
  metadata: MetadataRow[];
  /** The first TENSOR_ROWS_SHOWN tensors, in file order. */
  tensors: TensorRow[];
  tensorCount: number;
  /** Elements over all tensors: the weights' parameter count. */
  elements: number;
}

/** ggml tensor types by number (ggml.h `enum ggml_type`; gaps are removed types). */
const GGML_TYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K',
  13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S',
  22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0',
  35: 'TQ2_0', 39: 'MXFP4',
};

export function ggmlTypeName(type: number): string {
  return ownValue(GGML_TYPES, type) ?? `ggml type ${type}`;
}

const plural = (n: number, word: string) => `${n.toLocaleString('en')} ${word}${n === 1 ? '' : 's'}`;

function elementWord(v: GgufScalar): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'boolean';
  return 'number';
}

function scalarText(v: string | number | boolean): string {
  if (typeof v !== 'string') return String(v);
  return v.length > VALUE_TEXT_MAX ? `${v.slice(0, VALUE_TEXT_MAX)}… (${plural(v.length, 'character')})` : v;
}

/**
 * One metadata value as one line of text: scalars as they are, arrays inline when short, else counted;
 * anything long cut to VALUE_TEXT_MAX characters with its size stated (the reader kept no more).
 */
export function describeGgufValue(v: GgufValue): string {
  if (isLongArray(v)) return `array of ${plural(v.count, v.elementType)}${v.bytes === undefined ? '' : ` (${plural(v.bytes, 'byte')})`}`;
  if (isLongString(v)) return `${v.head.slice(0, VALUE_TEXT_MAX)}… (${plural(v.bytes, 'byte')})`;
  if (!Array.isArray(v)) return scalarText(v);
  if (v.length === 0) return 'empty array';
  if (v.length > INLINE_ARRAY_MAX) return `array of ${plural(v.length, elementWord(v[0]!))}`;
  const text = `[${v.map((x) => (typeof x === 'string' ? JSON.stringify(x) : String(x))).join(', ')}]`;
  return text.length > VALUE_TEXT_MAX ? `${text.slice(0, VALUE_TEXT_MAX)}… (array of ${plural(v.length, elementWord(v[0]!))})` : text;
}

const shapeText = (shape: readonly number[]) => `[${shape.map((d) => d.toLocaleString('en')).join(', ')}]`;

/** A GGUF header read with its tensor list (readGgufHeader with `tensors: true`). */
export function ggufFileHeader(h: GgufHeader): ModelFileHeader {
  const tensors = h.tensors ?? [];
  return {
    format: 'gguf',
    formatLabel: `GGUF v${h.version}`,
    shapeOrder: 'ggml order: ne[0] (the input width) first',
    metadata: [...h.metadata].map(([key, value]) => ({ key, value: describeGgufValue(value) + (key === 'general.file_type' && typeof value === 'number' && ownValue(FILE_TYPES, value) ? ` (${ownValue(FILE_TYPES, value)})` : '') })),
    tensors: tensors.slice(0, TENSOR_ROWS_SHOWN).map((t) => ({ name: t.name, shape: shapeText(t.shape), dtype: ggmlTypeName(t.type), elements: product(t.shape) })),
    tensorCount: h.tensorCount,
    elements: tensors.reduce((n, t) => n + product(t.shape), 0),
  };
}

export function safetensorsFileHeader(h: SafetensorsHeader): ModelFileHeader {
  return {
    format: 'safetensors',
    formatLabel: 'safetensors',
    shapeOrder: 'PyTorch order: [out, in] for a weight',
    metadata: [...h.metadata].map(([key, value]) => ({ key, value: scalarText(value) })),
    tensors: h.tensors.slice(0, TENSOR_ROWS_SHOWN).map((t) => ({ name: t.name, shape: shapeText(t.shape), dtype: t.dtype, elements: t.elements })),
    tensorCount: h.tensors.length,
    elements: countElements(h),
  };
}

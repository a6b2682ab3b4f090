/**
 * Where things are in a config's text: the key under an offset, the range of a field by its path.
 * Pure (jsonc-parser, no vscode), so offsets are unit-tested on real files.
 */
import { findNodeAtLocation, findNodeAtOffset, getNodePath, parseTree, type Node } from 'jsonc-parser';
import type { JsonPath } from './analysis';

export interface KeyAtOffset {
  /** The key's path from the root, e.g. ['text_config', 'hidden_size']. */
  path: JsonPath;
  key: string;
  /** [start, end) of the key's string, quotes included. */
  start: number;
  end: number;
}

/** The text's syntax tree, tolerant of comments, trailing commas and mid-edit errors. */
export function treeOf(text: string): Node | undefined {
  return parseTree(text, [], { allowTrailingComma: true, disallowComments: false });
}

/** The object key under `offset` (on the key itself or on its scalar value), if any. */
export function keyAt(text: string, offset: number): KeyAtOffset | undefined {
  return keyAtIn(treeOf(text), offset);
}

/** keyAt on a tree already parsed (the worker keeps one per document version). */
export function keyAtIn(root: Node | undefined, offset: number): KeyAtOffset | undefined {
  const hit = root && findNodeAtOffset(root, offset, true);
  // An entry of a list of strings (architectures) answers for the list's key.
  const node = hit?.parent?.type === 'array' && hit.type !== 'object' && hit.type !== 'array' ? hit.parent : hit;
  const property = node?.parent?.type === 'property' ? node.parent : undefined;
  const keyNode = property?.children?.[0];
  if (!node || !property || !keyNode || typeof keyNode.value !== 'string') return undefined;
  const onKey = keyNode === node;
  const onScalarValue = !onKey && property.children?.[1] === node && node.type !== 'object' && (node.type !== 'array' || node !== hit);
  if (!onKey && !onScalarValue) return undefined;
  return { path: getNodePath(keyNode), key: keyNode.value, start: keyNode.offset, end: keyNode.offset + keyNode.length };
}

export interface FieldRange {
  /** The whole `"key": value` property. */
  property: { start: number; end: number };
  /** The value alone (what a quick fix replaces). */
  value: { start: number; end: number };
}

/** The property at `path`, or null when the text does not hold it. */
export function fieldRange(text: string, path: JsonPath): FieldRange | null {
  return fieldRangeIn(treeOf(text), path, text);
}

/** fieldRange on the text's tree, already parsed. */
export function fieldRangeIn(root: Node | undefined, path: JsonPath, text: string): FieldRange | null {
  if (!root || path.length === 0) return null;
  const value: Node | undefined = findNodeAtLocation(root, path);
  const property = value?.parent;
  if (value && property?.type === 'property') {
    return { property: { start: property.offset, end: property.offset + property.length }, value: { start: value.offset, end: value.offset + value.length } };
  }
  // A value jsonc-parser does not read (Python's bare NaN or Infinity): the property holds only its key;
  // the value is the token after the colon (up to a delimiter).
  const last = path[path.length - 1];
  const parent = path.length === 1 ? root : findNodeAtLocation(root, path.slice(0, -1));
  const bare = parent?.type === 'object' ? parent.children?.find((p) => p.children?.length === 1 && p.children[0]!.value === last && p.colonOffset !== undefined) : undefined;
  if (!bare || bare.colonOffset === undefined) return null;
  const limit = bare.offset + bare.length;
  let start = bare.colonOffset + 1;
  while (start < limit && /\s/.test(text[start]!)) start++;
  let end = start;
  while (end < limit && !/[\s,}\]/]/.test(text[end]!)) end++;
  return start < end ? { property: { start: bare.offset, end }, value: { start, end } } : null;
}

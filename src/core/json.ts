import { parse, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { InputError } from './errors';

/**
 * Objects and arrays nested deeper than this are refused before parsing. Model configs nest about 5 deep
 * (text_config.rope_scaling…), hardware profiles 4; the parser below recurses once per level, so without
 * a bound a file of a million `[` is a stack overflow instead of an error.
 */
export const JSON_MAX_DEPTH = 64;

/**
 * Parses JSON the way model and profile files are really written: comments and
 * trailing commas are tolerated, and the bare `NaN`, `Infinity` and `-Infinity`
 * that Python's json module writes become `null` (no config field we read can
 * meaningfully hold them, so they read as "absent").
 *
 * Linear in the text: one scan finds the nesting depth and the non-finite tokens (outside strings and
 * comments), the text is rebuilt only when there are such tokens (as slices joined once), then the
 * native JSON.parse reads it; only text it refuses (comments, trailing commas, errors) goes to
 * jsonc-parser, which also places the error. A BOM is skipped.
 */
export function parseLenientJson(text: string, file: string, maxDepth = JSON_MAX_DEPTH): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const scan = scanJson(body, maxDepth);
  if (scan.tooDeep !== null) {
    const { line, column } = lineAndColumn(body, scan.tooDeep);
    throw new InputError(file, `line ${line}, column ${column}`, `JSON nested at most ${maxDepth} levels deep`, 'deeper nesting', 'limit');
  }
  const cleaned = scan.nonFinite.length === 0 ? body : replaceRanges(body, scan.nonFinite, 'null');
  try {
    return JSON.parse(cleaned) as unknown;
  } catch {
    // Not strict JSON: comments, trailing commas, or an error to place.
  }
  const errors: ParseError[] = [];
  const value: unknown = parse(cleaned, errors, { allowTrailingComma: true, disallowComments: false });
  const first = errors[0];
  if (first) {
    const { line, column } = lineAndColumn(body, originalOffset(first.offset, scan.nonFinite, 'null'.length));
    throw new InputError(file, `line ${line}, column ${column}`, 'valid JSON', printParseErrorCode(first.error));
  }
  return value;
}

interface Scan {
  /** Offset of the first `{` or `[` past the depth limit, or null. */
  tooDeep: number | null;
  /** [start, end) of each bare NaN / Infinity / -Infinity outside strings and comments, in order. */
  nonFinite: [number, number][];
}

const QUOTE = 0x22, BACKSLASH = 0x5c, SLASH = 0x2f, STAR = 0x2a;
const OPEN_BRACE = 0x7b, OPEN_BRACKET = 0x5b, CLOSE_BRACE = 0x7d, CLOSE_BRACKET = 0x5d;
const N = 0x4e, I = 0x49, MINUS = 0x2d;

function isWordChar(c: number): boolean {
  // [A-Za-z0-9_$.]: a token glued to one of these is not a bare literal.
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24 || c === 0x2e;
}

/** One pass over the text; every branch advances, strings and comments are skipped whole. */
function scanJson(text: string, maxDepth: number): Scan {
  const nonFinite: [number, number][] = [];
  let depth = 0;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i += 2;
        else if (d === QUOTE) break;
        else i++;
      }
      i++;
    } else if (c === SLASH && text.charCodeAt(i + 1) === SLASH) {
      const end = text.indexOf('\n', i + 2);
      i = end < 0 ? n : end + 1;
    } else if (c === SLASH && text.charCodeAt(i + 1) === STAR) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return { tooDeep: i, nonFinite };
      i++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      i++;
    } else if (c === N || c === I) {
      const word = c === N ? 'NaN' : 'Infinity';
      const end = i + word.length;
      if (text.startsWith(word, i) && !isWordChar(text.charCodeAt(end)) && !isWordChar(text.charCodeAt(i - 1))) {
        const start = c === I && text.charCodeAt(i - 1) === MINUS && !isWordChar(text.charCodeAt(i - 2)) ? i - 1 : i;
        nonFinite.push([start, end]);
        i = end;
      } else {
        i++;
      }
    } else {
      i++;
    }
  }
  return { tooDeep: null, nonFinite };
}

function replaceRanges(text: string, ranges: readonly [number, number][], by: string): string {
  const parts: string[] = [];
  let at = 0;
  for (const [start, end] of ranges) {
    parts.push(text.slice(at, start), by);
    at = end;
  }
  parts.push(text.slice(at));
  return parts.join('');
}

/** Maps an offset in the rebuilt text back to the original (each range became `byLength` characters). */
function originalOffset(offset: number, ranges: readonly [number, number][], byLength: number): number {
  let shift = 0;
  for (const [start, end] of ranges) {
    if (start + shift >= offset) break;
    shift += byLength - (end - start);
  }
  return offset - shift;
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Narrowing helpers shared by every reader of untrusted JSON. */
export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

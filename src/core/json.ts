import { parse, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { InputError } from './errors';

/**
 * Parses JSON the way model and profile files are really written: comments and
 * trailing commas are tolerated, and the bare `NaN`, `Infinity` and `-Infinity`
 * that Python's json module writes become `null` (no config field we read can
 * meaningfully hold them, so they read as "absent").
 */
export function parseLenientJson(text: string, file: string): unknown {
  const cleaned = replaceBareNonFinite(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  const errors: ParseError[] = [];
  const value: unknown = parse(cleaned, errors, { allowTrailingComma: true, disallowComments: false });
  const first = errors[0];
  if (first) {
    const { line, column } = lineAndColumn(cleaned, first.offset);
    throw new InputError(file, `line ${line}, column ${column}`, 'valid JSON', printParseErrorCode(first.error));
  }
  return value;
}

/** Replaces bare NaN/Infinity tokens outside strings with `null`, keeping every other byte. */
function replaceBareNonFinite(text: string): string {
  if (!/NaN|Infinity/.test(text)) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      const end = endOfString(text, i);
      out += text.slice(i, end);
      i = end;
      continue;
    }
    const match = /^-?(?:NaN|Infinity)\b/.exec(text.slice(i, i + 10));
    if (match && !/[\w$]/.test(text[i - 1] ?? '')) {
      out += 'null';
      i += match[0].length;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

function endOfString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '\\') i += 2;
    else if (ch === '"') return i + 1;
    else i++;
  }
  return text.length;
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

/**
 * Making file-derived text inert and bounded wherever it is shown. Model and hardware files are
 * untrusted: a name may carry terminal escapes, bidi overrides, Markdown syntax or 16 million
 * characters. These are the only functions that make such text safe; every view uses them.
 */

/**
 * Escape sequences as a terminal parses them, parameters included: CSI (ESC [ or the 8-bit U+009B),
 * OSC, DCS, SOS, PM and APC strings up to their terminator (BEL, ESC \ or U+009C; to the end of the
 * text when it never comes, since a terminal would swallow that much too), then any other ESC pair.
 */
// eslint-disable-next-line no-control-regex
const ESCAPE_SEQUENCE = /(?:\u001b\[|\u009b)[\u0020-\u003f]*[\u0040-\u007e]?|(?:\u001b[\]PX^_]|[\u0090\u0098\u009d\u009e\u009f])[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|\u001b[\u0020-\u007e]?/g;

/**
 * What remains unsafe once sequences are gone: C0 controls, DEL, C1 controls, the bidi marks,
 * embeddings, overrides and isolates (which reorder what follows them: "Trojan Source"), and the
 * Unicode line and paragraph separators.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_CODE_POINT = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/** Whitespace controls (tab, line breaks) become a space so that words stay apart; the rest go. */
// eslint-disable-next-line no-control-regex
const SPACING_CONTROL = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;

/**
 * One line of text safe for a terminal or a document: escape sequences removed with their
 * parameters, line breaks and tabs made spaces, every other control and bidi code point removed.
 * Idempotent: its output has none of the code points it removes.
 */
export function terminalSafe(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, '').replace(SPACING_CONTROL, ' ').replace(UNSAFE_CODE_POINT, '');
}

/** Multi-line output made safe line by line (the line breaks themselves are kept). */
export function terminalSafeLines(text: string): string {
  return text.split('\n').map(terminalSafe).join('\n');
}

/**
 * Text for inline Markdown (a heading, a list item, a table cell): one safe line, with every character
 * that could start markup written as a character reference (`#` → `&#35;`), so a name cannot open a
 * heading, a code span or fence, a link, HTML, emphasis, or split a table cell, and no later pass
 * (a table's cell splitting, a preview's sanitizer) can read it as syntax. Underscores stay: inside a
 * word (input_layernorm, every site name) they never emphasize, and at its edges they only italicize.
 */
export function markdownInline(text: string): string {
  return terminalSafe(text).replace(/[\\`*[\]<>#|~&!$]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The most characters of a file-derived name that any view shows. */
export const MAX_SHOWN_CHARS = 200;

/** Room for the " (16,000,000 characters)" a shortened text ends with. */
const LENGTH_NOTE_ROOM = 40;

/**
 * A name cut to MAX_SHOWN_CHARS, saying how long it was: "first 200 chars… (16,000,000 characters)".
 * Texts up to the cut plus that note's room stay whole, so shortening twice changes nothing.
 */
export function shortened(text: string, max = MAX_SHOWN_CHARS): string {
  if (text.length <= max + LENGTH_NOTE_ROOM) return text;
  // Do not split a surrogate pair.
  const end = /[\ud800-\udbff]/.test(text[max - 1] ?? '') ? max - 1 : max;
  return `${text.slice(0, end)}… (${text.length.toLocaleString('en-US')} characters)`;
}

/**
 * A file-derived name as every view shows it: one inert line of at most MAX_SHOWN_CHARS of it, with the
 * length it had as read. Cut first, so a 16-million-character name is never scanned whole.
 */
export function shownName(text: string): string {
  return terminalSafe(shortened(text));
}

/**
 * JSON text with the code points a terminal or an editor would act on written as \u escapes.
 * JSON.stringify escapes C0 controls but leaves DEL, C1 (U+009B is a CSI) and bidi controls raw;
 * outside strings JSON has none of them, so escaping them keeps every value as it was.
 */
export function jsonSafe(json: string): string {
  return json.replace(/[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

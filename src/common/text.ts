// Text taken from a file (entry names, pickle strings) can hold any bytes; error messages must
// stay one line and printable, so control characters are shown as \xNN escapes.
import { S2SNetsError } from './errors.js';

export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Base of the parsers' errors: whatever a file holds, the message stays one printable line. */
export abstract class FileContentError extends S2SNetsError {
  constructor(message: string) {
    super(printable(message));
  }
}

// A number, optionally followed by its interval: 97.7 [97.1, 98.2].
const NUMBER = String.raw`[-+]?\d[\d,]*(\.\d+)?%?`;
const NUMERIC = new RegExp(`^(-|${NUMBER}( \\[${NUMBER}, ${NUMBER}\\])?)$`);

/**
 * Rows as aligned plain-text columns under a header and a rule. Columns whose every cell is a
 * number (or '-') are right-aligned, the rest left-aligned.
 */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => NUMERIC.test(r[i] ?? '')));
  const line = (cells: string[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

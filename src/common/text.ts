// Text taken from a file (entry names, pickle strings) can hold any bytes; error messages must
// stay one line and printable, so control characters are shown as \xNN escapes.
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Base of the parsers' errors: whatever a file holds, the message stays one printable line. */
export class FileContentError extends Error {
  constructor(message: string) {
    super(printable(message));
  }
}

// The error contract: every error s2snets throws on purpose is an S2SNetsError with a stable
// `code` (S2SNETS_...), so programs and scripts match on the code, never on the wording of a
// message. docs/errors.md lists every code; test/common/errors.test.ts keeps the two in step.

/**
 * Base of every s2snets error. Each concrete class lists its codes in a static `codes` (one for
 * most classes; classes that report several conditions pass the one that applies); families that
 * are only ever thrown through a subclass (e.g. OnnxError) list none and are abstract.
 * @example
 * try { loadConfig('run.json'); } catch (e) { if (e instanceof S2SNetsError && e.code === 'S2SNETS_CONFIG') ... }
 */
export abstract class S2SNetsError extends Error {
  /** The codes an error of this class carries; the first is the one set when the constructor is given none. */
  static readonly codes: readonly string[] = [];
  /** Codes of earlier releases this class's codes replaced, old -> current; hasErrorCode accepts them. */
  static readonly legacyCodes: Readonly<Record<string, string>> = {};
  /** Stable across releases: what to match on (see docs/errors.md). */
  readonly code: string;

  /**
   * @param message one line naming the thing and what to do
   * @param code which of the class's codes applies (classes with one code leave it out)
   */
  constructor(message: string, code?: string) {
    super(message);
    this.code = code ?? (new.target as unknown as typeof S2SNetsError).codes[0];
  }
}

/**
 * Whether `e` is an s2snets error of `code`, where `code` may also be the code an earlier release
 * used for it (S2S_LOCK_HELD for S2SNETS_LOCK_HELD, ...), so checks written against old codes keep working.
 * @param e anything caught
 * @param code a current or legacy code
 * @example try { acquireLock(path, 'mine'); } catch (e) { if (hasErrorCode(e, 'S2SNETS_LOCK_HELD')) wait(); }
 */
export function hasErrorCode(e: unknown, code: string): boolean {
  if (!(e instanceof S2SNetsError)) return false;
  return e.code === code || (e.constructor as typeof S2SNetsError).legacyCodes[code] === e.code;
}

/**
 * Why an I/O call failed, short enough for a one-line message: the system's code (ENOENT, EACCES,
 * SQLITE_FULL, ...) when the error has one, else the first line of its message (an s2snets
 * error's message already says what is wrong, so it gives its message).
 * @param e what the failed call threw
 * @example try { readFileSync(p); } catch (e) { throw new ConfigError(`${p}: cannot read (${ioReason(e)})`); } // '... (ENOENT)'
 */
export function ioReason(e: unknown): string {
  const code = e instanceof S2SNetsError ? undefined : (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

// Tests that need a tool setup installs (redis-server, Debian's chromium, PyTorch for Python)
// skip where it is missing, saying why. On CI (the environment variable CI set) setup has
// installed them all, so a missing one means a broken setup: the test file fails instead of
// hiding the gap among the skips.

/** A tool a test needs is missing on CI, where setup installs it. */
export class MissingRequirementError extends Error {
  override name = 'MissingRequirementError';
  readonly code = 'S2SNETS_TEST_REQUIREMENT_MISSING';
}

/** Whether this process runs on CI (CI set to anything but '', '0' or 'false'). */
export function onCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/**
 * The skip reason for a missing requirement: the reason itself, off CI; on CI a thrown error.
 *
 * @param missing Why the requirement is missing, or null when it is there.
 * @param env The environment to read CI from (default process.env).
 * @returns null when nothing is missing, else the reason to skip with.
 * @throws MissingRequirementError on CI when something is missing.
 * @example
 * const skip = requirement(browserMissing()) ?? false; // test(..., { skip }, ...)
 */
export function requirement(missing: string | null, env: NodeJS.ProcessEnv = process.env): string | null {
  if (missing === null) return null;
  if (onCi(env)) throw new MissingRequirementError(`CI is set, so this fails instead of skipping: ${missing} (scripts/setup.mjs installs it on CI)`);
  return missing;
}

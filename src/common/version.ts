// The package's version, read once from package.json: the CLI's --version, the run store's
// record and the metadata of published and exported files all say the same.
import { readFileSync } from 'node:fs';

let cachedVersion: string | undefined;

/**
 * This package's version: package.json at the package root, two folders above this file's folder
 * (src/common) or three (dist/src/common); 'unknown' when neither holds s2snets' package.json.
 * @example toolVersion() // '0.1.0'
 */
export function toolVersion(): string {
  if (cachedVersion === undefined) {
    cachedVersion = 'unknown';
    for (const rel of ['../../package.json', '../../../package.json']) {
      try {
        const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8'));
        if (pkg.name === 's2snets') {
          cachedVersion = String(pkg.version);
          break;
        }
      } catch {
        // Not at this level (source vs compiled layout); try the next.
      }
    }
  }
  return cachedVersion;
}

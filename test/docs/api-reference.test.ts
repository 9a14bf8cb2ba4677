// docs/api.md cannot drift from the code: every export of the package and every command of the
// command line has its entry, and no entry names something that is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as library from '../../src/index.js';

const doc = readFileSync('docs/api.md', 'utf8');
const headings = [...doc.matchAll(/^### (.+)$/gm)].map((m) => m[1].trim());
const CLI_HEADING = 's2snets ';

/** The command names `s2snets --help` lists (commander's own `help` left out). */
function cliCommands(): string[] {
  const r = spawnSync(process.execPath, [resolve('dist/src/cli/main.js'), '--help'], { encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL' });
  assert.equal(r.status, 0, r.stderr);
  const section = r.stdout.split(/^Commands:$/m)[1];
  assert.ok(section, 'the help has a Commands: section');
  // A command's line starts two spaces in; wrapped descriptions are indented further.
  return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]).filter((name) => name !== 'help');
}

test('every export of the package is named in docs/api.md, as a heading or in backticks', () => {
  const named = new Set([...headings, ...[...doc.matchAll(/`([^`\n]+)`/g)].map((m) => m[1])]);
  const missing = Object.keys(library).filter((name) => !named.has(name));
  assert.deepEqual(missing, [], `exports without an entry in docs/api.md: ${missing.join(', ')}`);
});

test('every library heading of docs/api.md names an export of the package', () => {
  const stale = headings.filter((h) => !h.startsWith(CLI_HEADING) && !(h in library));
  assert.deepEqual(stale, [], `headings naming no export: ${stale.join(', ')}`);
});

test('docs/api.md has a heading for exactly the commands of the command line', () => {
  const commands = cliCommands();
  assert.ok(commands.length >= 10, `found the commands in --help (${commands.join(', ')})`);
  const documented = headings.filter((h) => h.startsWith(CLI_HEADING)).map((h) => h.slice(CLI_HEADING.length));
  assert.deepEqual([...documented].sort(), [...commands].sort());
});

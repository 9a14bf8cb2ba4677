// The error contract: every error class a library user may catch is exported, has its own codes
// with the one prefix, no two classes share a code, and docs/errors.md lists exactly those codes
// (with the class and the earlier code each replaced), so the table cannot drift from the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as library from '../../src/index.js';
import { S2SNetsError, hasErrorCode, ioReason } from '../../src/common/errors.js';

type ErrorClass = typeof S2SNetsError & { name: string };

/** Error classes, by name, among the package's exports and its namespaces' (nn, data). */
function exportedErrorClasses(): Map<string, ErrorClass> {
  const found = new Map<string, ErrorClass>();
  const visit = (exports: Record<string, unknown>, depth: number) => {
    for (const value of Object.values(exports)) {
      if (typeof value === 'function' && (value === S2SNetsError || value.prototype instanceof S2SNetsError)) found.set(value.name, value as ErrorClass);
      else if (depth === 0 && value !== null && typeof value === 'object') visit(value as Record<string, unknown>, 1);
    }
  };
  visit(library as Record<string, unknown>, 0);
  return found;
}

/** The codes a class declares itself (a subclass never inherits its parent's). */
const ownCodes = (c: ErrorClass): readonly string[] => (Object.hasOwn(c, 'codes') ? c.codes : []);
const ownLegacy = (c: ErrorClass): Readonly<Record<string, string>> => (Object.hasOwn(c, 'legacyCodes') ? c.legacyCodes : {});

interface Row {
  code: string;
  className: string;
  earlier: string;
}

/** The rows of a markdown table under `heading` in docs/errors.md, as cells without backticks. */
function tableUnder(doc: string, heading: string): string[][] {
  const start = doc.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `docs/errors.md has a '${heading}' section`);
  const section = doc.slice(start + heading.length + 2).split(/\n## /)[0];
  return section
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .slice(2)
    .map((l) => l.slice(1, -1).split('|').map((cell) => cell.trim().replace(/`/g, '')));
}

/** The TypeScript files under `dir`, at any depth. */
const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));

const doc = readFileSync('docs/errors.md', 'utf8');
const codeRows: Row[] = tableUnder(doc, '## Codes').map((cells) => ({ code: cells[0], className: cells[1], earlier: cells[5] }));
const families = new Set(tableUnder(doc, '## Families').map((cells) => cells[0]));
const classes = exportedErrorClasses();

test('every exported error class has its own codes with the S2SNETS_ prefix, unique across classes; only families have none', () => {
  assert.ok(classes.size > 40, `found ${classes.size} error classes among the exports`);
  const owner = new Map<string, string>();
  for (const [name, c] of classes) {
    if (c === S2SNetsError) continue;
    const codes = ownCodes(c);
    if (codes.length === 0) assert.ok(families.has(name), `${name} declares no code and is not a family in docs/errors.md`);
    for (const code of codes) {
      assert.match(code, /^S2SNETS_[A-Z0-9]+(_[A-Z0-9]+)*$/, `${name}: ${code}`);
      assert.equal(owner.get(code), undefined, `${code} is declared by ${owner.get(code)} and ${name}`);
      owner.set(code, name);
    }
    for (const [old, current] of Object.entries(ownLegacy(c))) {
      assert.ok(codes.includes(current), `${name}: earlier code ${old} maps to ${current}, not one of its codes`);
      assert.doesNotMatch(old, /^S2SNETS_/, `${name}: ${old} is not an earlier code`);
    }
  }
});

test('docs/errors.md lists exactly the exported codes, each with its class and the earlier code it replaced', () => {
  const documented = new Map(codeRows.map((r) => [r.code, r]));
  assert.equal(documented.size, codeRows.length, 'a code is listed twice');
  const declared = new Map<string, ErrorClass>();
  for (const c of classes.values()) for (const code of ownCodes(c)) declared.set(code, c);
  assert.deepEqual([...documented.keys()].sort(), [...declared.keys()].sort());
  for (const [code, c] of declared) {
    const row = documented.get(code)!;
    assert.equal(row.className, c.name, code);
    const earlier = Object.entries(ownLegacy(c)).filter(([, current]) => current === code).map(([old]) => old);
    assert.equal(row.earlier, earlier.join(', '), `${code}: earlier code`);
  }
  for (const family of families) assert.ok(family === 'S2SNetsError' || classes.has(family), `family ${family} is exported`);
});

test('no error class in src bypasses the base, and every exported one is reachable from the package', () => {
  const bases = new Map<string, { base: string; exported: boolean; file: string }>();
  for (const file of files('src')) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^(export )?(?:abstract )?class (\w+) extends (\w+)/gm)) bases.set(m[2], { base: m[3], exported: m[1] !== undefined, file });
  }
  const builtIn = /^(Error|TypeError|RangeError|SyntaxError|EvalError|ReferenceError|URIError|AggregateError)$/;
  for (const [name, { base, file }] of bases) if (builtIn.test(base)) assert.equal(name, 'S2SNetsError', `${file}: ${name} extends ${base}, not S2SNetsError`);
  const isError = (name: string): boolean => name === 'S2SNetsError' || (bases.has(name) && isError(bases.get(name)!.base));
  // runInWorker, which throws these, is not part of the package's API.
  const internal = new Set(['WorkerTaskError', 'WorkerAbortedError']);
  const missing = [...bases].filter(([name, c]) => c.exported && isError(name) && !internal.has(name) && !classes.has(name) && !families.has(name)).map(([name, c]) => `${name} (${c.file})`);
  assert.deepEqual(missing, [], 'error classes not exported from src/index.ts');
});

test('an error carries its class code; hasErrorCode also accepts the code it replaced', () => {
  const config = new library.ConfigError('run.json: cannot read (ENOENT)');
  assert.equal(config.code, 'S2SNETS_CONFIG');
  assert.equal(config.name, 'ConfigError');
  assert.equal(new library.OnnxParseError('m.onnx: truncated').code, 'S2SNETS_ONNX_PARSE');
  assert.equal(new library.RunInterruptedError('SIGTERM').code, 'S2SNETS_RUN_INTERRUPTED');
  const full = new library.RunDbError('S2SNETS_RUN_DB_FULL', 'run.db: the disk is full');
  assert.equal(full.code, 'S2SNETS_RUN_DB_FULL');
  assert.ok(full instanceof library.StoreError);
  assert.ok(hasErrorCode(full, 'S2SNETS_RUN_DB_FULL') && hasErrorCode(full, 'S2S_RUN_DB_FULL'));
  assert.ok(!hasErrorCode(full, 'S2S_RUN_DB_DAMAGED') && !hasErrorCode(full, 'S2SNETS_RUN_STORE'));
  const reconstruct = new library.ReconstructError('a.png: cannot read (ENOENT)');
  assert.ok(hasErrorCode(reconstruct, 'RECONSTRUCT_INPUT') && hasErrorCode(reconstruct, 'S2SNETS_RECONSTRUCT_INPUT'));
  assert.ok(!hasErrorCode(config, 'S2S_LOCK_HELD'));
  assert.ok(!hasErrorCode(Object.assign(new Error('x'), { code: 'S2SNETS_CONFIG' }), 'S2SNETS_CONFIG'), 'only s2snets errors');
});

test("ioReason: the system's code when there is one, else the message's first line", () => {
  let missing: unknown;
  try {
    readFileSync(join('test', 'no-such-file.json'));
  } catch (e) {
    missing = e;
  }
  assert.equal(ioReason(missing), 'ENOENT');
  let notJson: unknown;
  try {
    JSON.parse('{oops');
  } catch (e) {
    notJson = e;
  }
  assert.equal(ioReason(notJson), (notJson as Error).message);
  assert.equal(ioReason(new Error('first line\n    at somewhere')), 'first line');
  assert.equal(ioReason(new library.ConfigError('run.json: bad')), 'run.json: bad');
  assert.equal(ioReason('a string'), 'a string');
});

test("docs/errors.md's Layer column names the src folder each error class is declared in", () => {
  const rows = tableUnder(doc, '## Codes');
  assert.ok(rows.length > 40, `read ${rows.length} rows`);
  for (const [code, className, layer] of rows) {
    const declared = files(join('src', layer)).some((f) => new RegExp(`export class ${className}\\b`).test(readFileSync(f, 'utf8')));
    assert.ok(declared, `${code}: ${className} is not declared under src/${layer}`);
  }
});

// The layering of DESIGN.md, checked on the import graph rather than left to header comments:
// every import of src/ points down (or stays in its own folder), and the run record (src/runs/)
// and the viewer's server (src/serve/) never load the compute engine when their modules load,
// which is what lets `serve`, `status` and `verify` start without libtorch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * The floor of each folder of src/ (src/index.ts is the top): a module may import its own folder
 * and folders on lower floors only. Folders on one floor do not import each other.
 */
const FLOORS: Record<string, number> = {
  common: 0,
  engine: 1,
  nn: 2,
  data: 3,
  models: 3,
  analysis: 4,
  import: 4,
  train: 4,
  report: 5,
  runs: 6,
  scheduler: 7,
  experiment: 8,
  commands: 9,
  serve: 10,
  cli: 11,
  'index.ts': 12,
};

/** What a module imports: statically (loaded with it) and through import() (loaded when called). */
interface ModuleImports {
  static: string[];
  dynamic: string[];
}

/**
 * The module specifiers a TypeScript or JavaScript file imports or re-exports, type-only ones
 * included (they are dependencies of the source too).
 * @param file the file to read
 * @example importsOf('src/runs/store.ts').static // ['better-sqlite3', 'node:fs', './artifacts.js', ...]
 */
function importsOf(file: string): ModuleImports {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, false);
  const found: ModuleImports = { static: [], dynamic: [] };
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.static.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      found.dynamic.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.static.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function walk(dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p, ext) : p.endsWith(ext) && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** The folder of src/ a path lies in ('index.ts' for src/index.ts), or null outside src/. */
function folderOf(srcRoot: string, path: string): string | null {
  const rel = relative(srcRoot, path);
  if (rel.startsWith('..')) return null;
  return rel.split(sep)[0];
}

/** A relative specifier resolved to the file it names (.js written for .ts sources). */
function resolveRelative(from: string, spec: string, ext: string): string | null {
  if (!spec.startsWith('.')) return null;
  const target = resolve(dirname(from), spec);
  return ext === '.ts' ? target.replace(/\.js$/, '.ts') : target;
}

/**
 * Every import of the source that points up a floor, or across to another folder of the same floor.
 * @param srcRoot the source folder (src/)
 * @example upwardImports('src') // [] when the layering holds
 */
function upwardImports(srcRoot: string): string[] {
  const problems: string[] = [];
  const files = walk(srcRoot, '.ts').filter((f) => folderOf(srcRoot, f) !== 'web');
  for (const file of files) {
    const from = folderOf(srcRoot, file)!;
    const imports = importsOf(file);
    for (const spec of [...imports.static, ...imports.dynamic]) {
      const target = resolveRelative(file, spec, '.ts');
      const to = target && folderOf(srcRoot, target);
      if (!to || to === from) continue;
      if (!(from in FLOORS) || !(to in FLOORS)) {
        problems.push(`${relative(srcRoot, file)}: folder ${!(from in FLOORS) ? from : to} has no floor in FLOORS`);
      } else if (FLOORS[to] >= FLOORS[from]) {
        problems.push(`${relative(srcRoot, file)} (${from}, floor ${FLOORS[from]}) imports ${relative(srcRoot, target)} (${to}, floor ${FLOORS[to]})`);
      }
    }
  }
  return problems;
}

/**
 * The modules loaded with `entry`: its static imports, followed transitively (import() calls are
 * not followed: they load on demand). Only relative specifiers are followed.
 * @param entry a compiled module
 * @returns each loaded module with the chain of imports that brings it in
 * @example staticClosure('dist/src/runs/store.js').has('dist/src/runs/artifacts.js') // true
 */
function staticClosure(entry: string): Map<string, string[]> {
  const chains = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const spec of importsOf(file).static) {
      const target = resolveRelative(file, spec, '.js');
      if (!target || chains.has(target) || !existsSync(target)) continue;
      chains.set(target, [...chains.get(file)!, target]);
      queue.push(target);
    }
  }
  return chains;
}

/**
 * The chains by which modules of `folders` load a module of `forbidden` when they load.
 * @param distSrc the compiled source folder (dist/src)
 * @param folders the folders whose modules must stay free of it
 * @param forbidden the folder that must not load
 * @example loadsOf('dist/src', ['runs'], 'engine') // [] when the record never loads libtorch
 */
function loadsOf(distSrc: string, folders: string[], forbidden: string): string[] {
  const problems: string[] = [];
  for (const folder of folders) {
    for (const entry of walk(join(distSrc, folder), '.js')) {
      for (const [module, chain] of staticClosure(entry)) {
        if (folderOf(distSrc, module) === forbidden) {
          problems.push(chain.map((f) => relative(distSrc, f)).join(' -> '));
          break;
        }
      }
    }
  }
  return problems;
}

test('every import of src/ points down a floor or stays in its folder', () => {
  assert.deepEqual(upwardImports(join(ROOT, 'src')), []);
});

test('every folder of src/ has a floor', () => {
  const folders = readdirSync(join(ROOT, 'src')).filter((n) => n !== 'web');
  assert.deepEqual(folders.filter((f) => !(f in FLOORS)), []);
});

test('the run record and the viewer\'s server load no module of the compute engine', () => {
  const distSrc = join(ROOT, 'dist', 'src');
  assert.ok(existsSync(join(distSrc, 'runs')), 'compile first: dist/src/runs is missing');
  assert.deepEqual(loadsOf(distSrc, ['runs', 'serve'], 'engine'), []);
});

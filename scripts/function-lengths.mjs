#!/usr/bin/env node
// Lists the longest functions of TypeScript sources, by lines from the first line of the
// declaration to its closing brace (nested functions count toward their parent too, since a
// reader holds them together), using the TypeScript compiler's parser.
//
//   node scripts/function-lengths.mjs                      # the 20 longest functions of src/
//   node scripts/function-lengths.mjs src/import/pickle.ts # every function of one file
//   node scripts/function-lengths.mjs --top 5 --over 60 src test
//
// --top N keeps the N longest (default 20 for folders, all for single files); --over N keeps
// those longer than N lines. Each line: length, file:line, name (Class.method, outer/inner).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

function usage(why) {
  process.stderr.write(`function-lengths: ${why}\nusage: node scripts/function-lengths.mjs [--top N] [--over N] [file-or-folder ...]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { top: null, over: 0, paths: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--top' || a === '--over') {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) usage(`${a} needs a whole number, got ${argv[i]}`);
      opts[a.slice(2)] = v;
    } else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else opts.paths.push(a);
  }
  if (opts.paths.length === 0) opts.paths.push('src');
  return opts;
}

/** The .ts files under a path (a file itself, or a folder walked recursively). */
function tsFiles(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch (e) {
    usage(`cannot read ${path} (${e.code ?? e.message})`);
  }
  if (!stat.isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => {
      const p = join(path, name);
      return statSync(p).isDirectory() ? tsFiles(p) : /\.tsx?$/.test(name) && !name.endsWith('.d.ts') ? [p] : [];
    });
}

/** A readable name for a function-like node: its own, its variable's or property's, or (anonymous). */
function nameOf(node) {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (node.name && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name) || ts.isPrivateIdentifier(node.name))) return node.name.text;
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) && ts.isIdentifier(parent.name)) return parent.name.text;
  return '(anonymous)';
}

function isFunctionLike(node) {
  return ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node) || ts.isArrowFunction(node) || ts.isMethodDeclaration(node) || ts.isConstructorDeclaration(node) || ts.isGetAccessorDeclaration(node) || ts.isSetAccessorDeclaration(node);
}

/** Every function of one file with its length in lines and its qualified name. */
function functionsOf(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found = [];
  const visit = (node, scope) => {
    let inner = scope;
    if (ts.isClassDeclaration(node) || ts.isClassExpression(node)) inner = scope ? `${scope}/${node.name?.text ?? '(class)'}` : node.name?.text ?? '(class)';
    else if (isFunctionLike(node) && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
      const name = nameOf(node);
      const isMember = ts.isClassLike(node.parent);
      const qualified = scope ? `${scope}${isMember ? '.' : '/'}${name}` : name;
      found.push({ file, line: start, lines: end - start + 1, name: qualified });
      inner = qualified;
    }
    ts.forEachChild(node, (child) => visit(child, inner));
  };
  visit(source, '');
  return found;
}

const opts = parseArgs(process.argv.slice(2));
const singleFiles = opts.paths.every((p) => !statSync(p, { throwIfNoEntry: false })?.isDirectory());
const top = opts.top ?? (singleFiles ? Infinity : 20);
const all = opts.paths
  .flatMap(tsFiles)
  .flatMap(functionsOf)
  .filter((f) => f.lines > opts.over)
  .sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file) || a.line - b.line);
for (const f of all.slice(0, top)) console.log(`${String(f.lines).padStart(5)}  ${relative(process.cwd(), f.file)}:${f.line}  ${f.name}`);

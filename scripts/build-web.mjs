#!/usr/bin/env node
// Builds the viewer (src/web) for `s2snets serve`: type-checks it against the DOM, bundles it
// with esbuild into dist/web/viewer.js (one file, no CDN), and copies its page and stylesheet.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildWeb() {
  const src = join(root, 'src', 'web');
  const out = join(root, 'dist', 'web');
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(src, 'tsconfig.json')], { stdio: ['ignore', 'inherit', 'inherit'] });
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(src, 'main.ts')],
    outfile: join(out, 'viewer.js'),
    bundle: true,
    format: 'iife',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  });
  mkdirSync(out, { recursive: true });
  for (const f of ['index.html', 'viewer.css', 'icon.svg']) copyFileSync(join(src, f), join(out, f));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await buildWeb();

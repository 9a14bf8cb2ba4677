// One version everywhere: what the package says, what the library reports and what the CLI prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { toolVersion } from '../../src/common/version.js';

const packageVersion = JSON.parse(readFileSync('package.json', 'utf8')).version as string;

test("the tool's version is package.json's, in the library and on the command line", () => {
  assert.equal(toolVersion(), packageVersion);
  const r = spawnSync(process.execPath, [resolve('dist/src/cli/main.js'), '--version'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), packageVersion);
});

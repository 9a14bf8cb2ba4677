// Quick runs made through the CLI, as a user makes them, for the viewer's tests.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const cli = resolve('dist/src/cli/main.js');

function s2snets(args: string[]): void {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`s2snets ${args[0]} failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
}

/**
 * A whole quick run (lenet5 and resnet, tiny training) in dir, with `evalSamples` evaluation
 * images (more than one tile's worth by default), made by `s2snets run` from a configuration file.
 */
export function quickRun(dir: string, evalSamples = 300): void {
  const config = `${dir}.json`;
  writeFileSync(config, JSON.stringify({ quick: true, classifiers: ['lenet5', 'resnet'], device: 'cpu', runDir: dir, eval: { samples: evalSamples }, ae: { pretrain: { epochs: 1 } } }));
  s2snets(['run', config]);
}

/** A run that has only pretrained A_S so far (`s2snets pretrain --quick`): the other autoencoders are pending. */
export function quickPretrain(dir: string): void {
  s2snets(['pretrain', '--quick', '--device', 'cpu', '--run-dir', dir]);
}

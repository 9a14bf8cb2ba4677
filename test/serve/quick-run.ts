// A quick demo run made through the CLI, as a user makes one, for the viewer's tests.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const cli = resolve('dist/src/cli/main.js');

/**
 * Runs `s2snets <stage> --quick --device cpu --run-dir dir` and fails loudly if it does not finish.
 * @param stage 'demo' for a whole run, 'pretrain' for a run that has only A_S so far
 */
export function quickRun(dir: string, stage: 'demo' | 'pretrain' = 'demo'): void {
  const r = spawnSync(process.execPath, [cli, stage, '--quick', '--device', 'cpu', '--run-dir', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`s2snets ${stage} --quick failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
}

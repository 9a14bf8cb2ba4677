// Tasks that test/engine/worker.test.ts runs in worker threads.
import type { WorkerContext } from '../../src/engine/worker.js';
import { smallTrainer } from './small-net.js';

export interface TrainProgress {
  step: number;
  loss: number;
}

/** Trains the small conv net for `steps` steps, reporting every `every`; stops early when aborted. */
export function train(args: { steps: number; every: number }, ctx: WorkerContext<TrainProgress>): { steps: number; loss: number } {
  const trainer = smallTrainer(3);
  let loss = NaN;
  let step = 0;
  while (step < args.steps && !ctx.aborted) {
    loss = trainer.step();
    step++;
    if (step % args.every === 0) ctx.progress({ step, loss });
  }
  return { steps: step, loss };
}

export function fail(args: { reason: string }): never {
  throw new Error(args.reason);
}

/** Never returns and never looks at ctx.aborted: only terminate() stops it. */
export function spin(_args: unknown, ctx: WorkerContext<string>): never {
  ctx.progress('spinning');
  for (;;) {
    // busy on purpose
  }
}

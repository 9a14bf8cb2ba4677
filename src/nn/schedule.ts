// Learning-rate schedules (torch.optim.lr_scheduler), as closed forms of the step/epoch count.
import type { Optimizer } from './optim.js';

export interface Schedule {
  /** Sets optimizer.lr for the given epoch (or step) t, counted from 0. */
  apply(opt: Optimizer, t: number): void;
}

/** lr = base * gamma^floor(t / stepSize) (StepLR). */
export function stepSchedule(base: number, stepSize: number, gamma = 0.1): Schedule {
  if (!(stepSize > 0)) throw new RangeError('stepSize must be > 0');
  return { apply: (opt, t) => void (opt.lr = base * gamma ** Math.floor(t / stepSize)) };
}

/** lr = etaMin + (base - etaMin) * (1 + cos(pi * t / tMax)) / 2 (CosineAnnealingLR). */
export function cosineSchedule(base: number, tMax: number, etaMin = 0): Schedule {
  if (!(tMax > 0)) throw new RangeError('tMax must be > 0');
  return { apply: (opt, t) => void (opt.lr = etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * Math.min(t, tMax)) / tMax))) / 2) };
}

/** Constant lr. */
export function constantSchedule(base: number): Schedule {
  return { apply: (opt) => void (opt.lr = base) };
}

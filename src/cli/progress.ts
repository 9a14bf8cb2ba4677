// Progress output for long stages: live bars on a terminal, periodic plain lines otherwise
// (CI logs, pipes), so a long run always shows what it is doing and how long is left. Several
// jobs may run at once (--jobs): each has its own bar, or its own line every few seconds.
import cliProgress from 'cli-progress';

export interface ProgressUpdate {
  /** The job or stage, e.g. 'fine-tune resnet'. */
  stage: string;
  /** 0..1 */
  fraction: number;
  message?: string;
  /** Throughput of the stage's current attempt (training: images a second). */
  imagesPerS?: number;
  /** Seconds left; absent: estimated from the stage's progress since its first update. */
  etaS?: number;
}

/** A plain line per stage at most this often (ms). */
const LINE_EVERY_MS = 5000;

/**
 * A duration as a progress line shows it: '42s', '3m05s', '2h07m'; '--' when unknown.
 * @param s seconds (undefined or not finite: unknown)
 * @example formatDuration(185) // '3m05s'
 */
export function formatDuration(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s) || s < 0) return '--';
  const t = Math.round(s);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${pad(t % 60)}s`;
  return `${Math.floor(t / 3600)}h${pad(Math.floor((t % 3600) / 60))}m`;
}

/**
 * A throughput in images a second: one decimal below 10 (a large model on the CPU), whole
 * numbers with thousands separators above.
 * @param imagesPerS images a second
 * @example formatRate(0.74) // '0.7 img/s'; formatRate(1234.5) // '1,235 img/s'
 */
export function formatRate(imagesPerS: number): string {
  const shown = imagesPerS < 10 ? imagesPerS.toFixed(1) : Math.round(imagesPerS).toLocaleString('en-US');
  return `${shown} img/s`;
}

/** The message and throughput of an update: 'step 30/600 loss 0.1234, 812 img/s'. */
function describe(u: ProgressUpdate): string {
  const rate = u.imagesPerS === undefined || !Number.isFinite(u.imagesPerS) ? '' : formatRate(u.imagesPerS);
  return [u.message ?? '', rate].filter(Boolean).join(', ');
}

/**
 * The plain line of an update (logs, pipes): one line whatever the message holds.
 * @param u the stage's update, its etaS given or estimated
 * @example
 * formatProgressLine({ stage: '[5/9] finetune[resnet]', fraction: 0.05, message: 'step 30/600 loss 0.1234', imagesPerS: 812, etaS: 65 })
 * // '  [5/9] finetune[resnet]: 5% step 30/600 loss 0.1234, 812 img/s (eta 1m05s)'
 */
export function formatProgressLine(u: ProgressUpdate): string {
  return `  ${u.stage}: ${Math.round(u.fraction * 100)}% ${describe(u)} (eta ${formatDuration(u.etaS)})`.replace(/[\r\n]+/g, ' ');
}

/** A running stage: its live bar (terminal) or the time of its last line, and its first update (for the ETA). */
interface StageState {
  bar: cliProgress.SingleBar | null;
  lastLine: number;
  first: { at: number; fraction: number };
}

export class ProgressReporter {
  private readonly tty = Boolean(process.stderr.isTTY);
  private bars: cliProgress.MultiBar | null = null;
  private readonly stages = new Map<string, StageState>();

  /** @param now the clock (ms) the ETA and the line interval are measured with */
  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Shows a stage's progress; a stage seen for the first time gets its own bar or lines.
   * @param u the stage, its fraction done, a message and the time left
   * @example progress.update({ stage: '[4/18] classifier[resnet]', fraction: 0.3, message: 'step 300/1000', etaS: 40 });
   */
  update(u: ProgressUpdate): void {
    const now = this.now();
    const stage = this.stages.get(u.stage) ?? this.begin(u.stage, now, u.fraction);
    const shown = { ...u, etaS: u.etaS ?? estimateEta(stage.first, now, u.fraction) };
    if (stage.bar) {
      stage.bar.update(Math.round(u.fraction * 100), { message: describe(shown), left: formatDuration(shown.etaS) });
      return;
    }
    if (now - stage.lastLine > LINE_EVERY_MS || u.fraction >= 1) {
      stage.lastLine = now;
      process.stderr.write(`${formatProgressLine(shown)}\n`);
    }
  }

  /**
   * Prints a line above the bars; with `ended`, that stage's bar goes (the job finished, failed
   * or was reused).
   * @param line the text
   * @param ended the stage the line closes
   * @example progress.log('[4/18] classifier[resnet]: done in 47.1s', '[4/18] classifier[resnet]');
   */
  log(line: string, ended?: string): void {
    const stage = ended === undefined ? undefined : this.stages.get(ended);
    if (stage) {
      if (stage.bar) this.bars?.remove(stage.bar);
      this.stages.delete(ended!);
    }
    // The last bar gone, the bars stop first, so that the line lands below them.
    if (this.bars && this.stages.size === 0) this.stop();
    if (this.bars) this.bars.log(`${line}\n`);
    else process.stderr.write(`${line}\n`);
  }

  private begin(name: string, now: number, fraction: number): StageState {
    let bar: cliProgress.SingleBar | null = null;
    if (this.tty) {
      this.bars ??= new cliProgress.MultiBar(
        { format: '{stage} |{bar}| {percentage}% {message} eta {left}', hideCursor: true, clearOnComplete: false, barsize: 24 },
        cliProgress.Presets.shades_classic,
      );
      bar = this.bars.create(100, 0, { stage: name.padEnd(28), message: '', left: '--' });
    }
    // A new stage's first update always prints.
    const stage = { bar, lastLine: Number.NEGATIVE_INFINITY, first: { at: now, fraction } };
    this.stages.set(name, stage);
    return stage;
  }

  /** Stops every bar (call when the run ends, however it ends). */
  stop(): void {
    this.bars?.stop();
    this.bars = null;
    this.stages.clear();
  }
}

/**
 * Seconds left at the pace since the stage's first update: setup before it (loading data,
 * building models) does not count, and a resumed job is timed from where it resumed.
 */
function estimateEta(first: { at: number; fraction: number }, now: number, fraction: number): number | undefined {
  if (fraction >= 1) return 0;
  const done = fraction - first.fraction;
  return done > 0 && now > first.at ? ((now - first.at) / 1000 / done) * (1 - fraction) : undefined;
}

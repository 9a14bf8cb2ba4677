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
  etaS?: number;
}

/** A plain line per stage at most this often (ms). */
const LINE_EVERY_MS = 5000;

function formatDuration(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '--';
  if (s < 60) return `${Math.round(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

export class ProgressReporter {
  private readonly tty = Boolean(process.stderr.isTTY);
  private bars: cliProgress.MultiBar | null = null;
  /** The live bar (terminal) or the time of the last line (otherwise) of each running stage. */
  private readonly stages = new Map<string, { bar: cliProgress.SingleBar | null; lastLine: number }>();

  /**
   * Shows a stage's progress; a stage seen for the first time gets its own bar or lines.
   * @param u the stage, its fraction done, a message and the time left
   * @example progress.update({ stage: '[4/18] classifier[resnet]', fraction: 0.3, message: 'step 300/1000', etaS: 40 });
   */
  update(u: ProgressUpdate): void {
    const pct = Math.round(u.fraction * 100);
    const stage = this.stages.get(u.stage) ?? this.begin(u.stage);
    if (stage.bar) {
      stage.bar.update(pct, { message: u.message ?? '', left: formatDuration(u.etaS) });
      return;
    }
    const now = Date.now();
    if (now - stage.lastLine > LINE_EVERY_MS || u.fraction >= 1) {
      stage.lastLine = now;
      process.stderr.write(`  ${u.stage}: ${pct}% ${u.message ?? ''} (eta ${formatDuration(u.etaS)})\n`);
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

  private begin(name: string): { bar: cliProgress.SingleBar | null; lastLine: number } {
    let bar: cliProgress.SingleBar | null = null;
    if (this.tty) {
      this.bars ??= new cliProgress.MultiBar(
        { format: '{stage} |{bar}| {percentage}% {message} eta {left}', hideCursor: true, clearOnComplete: false, barsize: 24 },
        cliProgress.Presets.shades_classic,
      );
      bar = this.bars.create(100, 0, { stage: name.padEnd(28), message: '', left: '--' });
    }
    const stage = { bar, lastLine: 0 };
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

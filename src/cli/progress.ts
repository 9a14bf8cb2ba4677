// Progress output for long stages: a live bar on a terminal, periodic plain lines otherwise
// (CI logs, pipes), so a long run always shows what it is doing and how long is left.
import cliProgress from 'cli-progress';

export interface ProgressUpdate {
  /** The job or stage, e.g. 'fine-tune resnet'. */
  stage: string;
  /** 0..1 */
  fraction: number;
  message?: string;
  etaS?: number;
}

function formatDuration(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '--';
  if (s < 60) return `${Math.round(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

export class ProgressReporter {
  private readonly tty = Boolean(process.stderr.isTTY);
  private bar: cliProgress.SingleBar | null = null;
  private stage = '';
  private lastLine = 0;

  update(u: ProgressUpdate): void {
    if (u.stage !== this.stage) this.begin(u.stage);
    const pct = Math.round(u.fraction * 100);
    if (this.bar) {
      this.bar.update(pct, { message: u.message ?? '', eta: formatDuration(u.etaS) });
      this.bar.render();
      return;
    }
    const now = Date.now();
    if (now - this.lastLine > 5000 || u.fraction >= 1) {
      this.lastLine = now;
      process.stderr.write(`  ${u.stage}: ${pct}% ${u.message ?? ''} (eta ${formatDuration(u.etaS)})\n`);
    }
  }

  log(line: string): void {
    if (this.bar) this.bar.stop();
    this.bar = null;
    this.stage = '';
    process.stderr.write(`${line}\n`);
  }

  private begin(stage: string): void {
    this.bar?.stop();
    this.stage = stage;
    this.lastLine = 0;
    if (this.tty) {
      this.bar = new cliProgress.SingleBar(
        { format: `${stage.padEnd(24)} |{bar}| {percentage}% {message} eta {eta}`, hideCursor: true, clearOnComplete: false, barsize: 24 },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(100, 0, { message: '', eta: '--' });
    } else {
      process.stderr.write(`${stage}...\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

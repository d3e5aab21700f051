/**
 * Progress of a long command on standard error: a bar redrawn in place on a terminal (with events/s and the
 * ETA), plain lines at an interval otherwise (logs, CI), or nothing.
 */

export type ProgressMode = 'bar' | 'lines' | 'none';

export interface ProgressSample {
  /** Events done so far. */
  events: number;
  /** Share of the input done, 0 to 1, when the input's size is known. */
  fraction: number | undefined;
}

export interface ProgressOptions {
  mode: ProgressMode;
  /** Starts every plain line (the command's name). */
  label: string;
  /** Between two plain lines (the bar is redrawn every 200 ms). */
  intervalMs: number;
  /** Where it is drawn (standard error). */
  out: { write(text: string): unknown; columns?: number | undefined };
  /** Clock in ms (tests). */
  now?: () => number;
}

const BAR_REDRAW_MS = 200;

const count = (n: number) => Math.round(n).toLocaleString('en-US');

/** `m:ss`, or `h:mm:ss` from an hour up (whole seconds elapsed; callers round a time left up). */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Events per second and, when the fraction is known, the remaining time at the average pace so far. */
export function rates(sample: ProgressSample, elapsedMs: number): { perSecond: number; etaSeconds: number | undefined } {
  const seconds = elapsedMs / 1000;
  const perSecond = seconds > 0 ? sample.events / seconds : 0;
  const f = sample.fraction;
  const etaSeconds = f !== undefined && f > 0 ? (seconds * (1 - Math.min(1, f))) / f : undefined;
  return { perSecond, etaSeconds };
}

/** The plain line: `45,000 events, 45%, 12,345 events/s, ETA 0:05`. */
export function formatLine(sample: ProgressSample, elapsedMs: number): string {
  const { perSecond, etaSeconds } = rates(sample, elapsedMs);
  const parts = [`${count(sample.events)} events`];
  if (sample.fraction !== undefined) parts.push(`${Math.floor(Math.min(1, sample.fraction) * 100)}%`);
  parts.push(`${count(perSecond)} events/s`, `elapsed ${formatDuration(elapsedMs / 1000)}`);
  if (etaSeconds !== undefined) parts.push(`ETA ${formatDuration(Math.ceil(etaSeconds))}`);
  return parts.join(', ');
}

/** The terminal bar: `[██████░░░░]  45%  45,000 events  12,345 events/s  ETA 0:05`, fitted to `columns`. */
export function formatBar(sample: ProgressSample, elapsedMs: number, columns: number): string {
  const { perSecond, etaSeconds } = rates(sample, elapsedMs);
  const text = [`${count(sample.events)} events`, `${count(perSecond)} events/s`];
  text.push(etaSeconds !== undefined ? `ETA ${formatDuration(Math.ceil(etaSeconds))}` : `elapsed ${formatDuration(elapsedMs / 1000)}`);
  const tail = text.join('  ');
  if (sample.fraction === undefined) return tail;
  const f = Math.min(1, Math.max(0, sample.fraction));
  const percent = `${String(Math.floor(f * 100)).padStart(3)}%`;
  const width = Math.max(10, Math.min(40, columns - tail.length - percent.length - 7));
  const filled = Math.round(f * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${percent}  ${tail}`;
}

export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private sample: () => ProgressSample = () => ({ events: 0, fraction: undefined });
  private readonly now: () => number;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  start(sample: () => ProgressSample) {
    this.sample = sample;
    this.started = this.now();
    if (this.options.mode === 'none') return;
    const every = this.options.mode === 'bar' ? BAR_REDRAW_MS : this.options.intervalMs;
    this.timer = setInterval(() => this.tick(), every);
    this.timer.unref();
  }

  /** Seconds since `start()`. */
  get elapsedSeconds(): number {
    return (this.now() - this.started) / 1000;
  }

  /** A message of its own line (above the bar on a terminal). */
  note(message: string) {
    if (this.options.mode === 'bar') {
      this.options.out.write(`\r\x1b[K${message}\n`);
      this.draw();
    } else {
      this.options.out.write(`${message}\n`);
    }
  }

  /** Draws the final state (the bar at its last value, left on screen) and stops. */
  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.options.mode === 'bar') {
      this.draw();
      this.options.out.write('\n');
    }
  }

  private tick() {
    if (this.options.mode === 'bar') return this.draw();
    this.options.out.write(`${this.options.label}: ${formatLine(this.sample(), this.now() - this.started)}\n`);
  }

  private draw() {
    const columns = this.options.out.columns ?? 80;
    this.options.out.write(`\r${formatBar(this.sample(), this.now() - this.started, columns)}\x1b[K`);
  }
}

/** The replay's progress output: the terminal bar, the plain lines, and their arithmetic. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Progress, formatBar, formatDuration, formatLine, rates } from '../../src/cli/progress.js';

describe('arithmetic', () => {
  it('events/s over the elapsed time; ETA from the share done at the pace so far', () => {
    expect(rates({ events: 5000, fraction: 0.25 }, 2000)).toEqual({ perSecond: 2500, etaSeconds: 6 });
    expect(rates({ events: 0, fraction: 0 }, 0)).toEqual({ perSecond: 0, etaSeconds: undefined });
    expect(rates({ events: 10, fraction: undefined }, 1000).etaSeconds).toBeUndefined();
  });

  it('durations as m:ss, h:mm:ss from an hour', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(65.9)).toBe('1:05');
    expect(formatDuration(3600 + 62)).toBe('1:01:02');
  });
});

describe('formats', () => {
  it('a plain line: events, percent, rate, elapsed and ETA (no percent nor ETA when the size is unknown)', () => {
    expect(formatLine({ events: 45_000, fraction: 0.45 }, 4000)).toBe('45,000 events, 45%, 11,250 events/s, elapsed 0:04, ETA 0:05');
    expect(formatLine({ events: 1234, fraction: undefined }, 2000)).toBe('1,234 events, 617 events/s, elapsed 0:02');
  });

  it('the bar fills with the share done and fits the terminal', () => {
    const half = formatBar({ events: 50_000, fraction: 0.5 }, 5000, 100);
    expect(half).toMatch(/^\[█+░+\]  50%  50,000 events  10,000 events\/s  ETA 0:05$/);
    const bar = /^\[(█*)(░*)\]/.exec(half)!;
    expect(bar[1]!.length).toBe(bar[2]!.length);
    expect(half.length).toBeLessThanOrEqual(100);
    expect(formatBar({ events: 1, fraction: 1 }, 1000, 100)).toMatch(/^\[█+\] 100% /);
    expect(formatBar({ events: 7, fraction: undefined }, 1000, 100)).toBe('7 events  7 events/s  elapsed 0:01');
  });
});

describe('Progress', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const sink = () => {
    const out = { text: '', columns: 100, write: (s: string) => void (out.text += s) };
    return out;
  };

  it('on a terminal: redraws one line in place, notes go above it, the last state stays', () => {
    const out = sink();
    let now = 0;
    const p = new Progress({ mode: 'bar', label: 'replay', intervalMs: 5000, out, now: () => now });
    let events = 0;
    p.start(() => ({ events, fraction: events / 100 }));
    events = 10;
    now = 1000;
    vi.advanceTimersByTime(200);
    expect(out.text).toBe(`\r${formatBar({ events: 10, fraction: 0.1 }, 1000, 100)}\x1b[K`);
    p.note('line 3 skipped: not JSON');
    expect(out.text).toContain('\r\x1b[Kline 3 skipped: not JSON\n\r[');
    events = 100;
    now = 2000;
    p.stop();
    expect(out.text.endsWith(`\r${formatBar({ events: 100, fraction: 1 }, 2000, 100)}\x1b[K\n`)).toBe(true);
    const before = out.text;
    vi.advanceTimersByTime(1000);
    expect(out.text).toBe(before);
  });

  it('not on a terminal: one labelled line per interval, nothing on stop', () => {
    const out = sink();
    let now = 0;
    const p = new Progress({ mode: 'lines', label: 'replay', intervalMs: 5000, out, now: () => now });
    p.start(() => ({ events: now, fraction: undefined }));
    now = 4000;
    vi.advanceTimersByTime(4999);
    expect(out.text).toBe('');
    now = 5000;
    vi.advanceTimersByTime(1);
    expect(out.text).toBe('replay: 5,000 events, 1,000 events/s, elapsed 0:05\n');
    p.stop();
    expect(out.text.split('\n')).toHaveLength(2);
  });

  it('none: writes nothing but notes', () => {
    const out = sink();
    const p = new Progress({ mode: 'none', label: 'replay', intervalMs: 10, out });
    p.start(() => ({ events: 1, fraction: 0.5 }));
    vi.advanceTimersByTime(1000);
    p.note('line 2 skipped: not JSON');
    p.stop();
    expect(out.text).toBe('line 2 skipped: not JSON\n');
  });
});

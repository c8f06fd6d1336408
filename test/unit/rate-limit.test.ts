import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RateLimited } from '../../renderer/src/lib/rate-limit.ts';

// The viewer's redraws and the panels' repaints while a proposal streams (viewer.proposalChanged,
// Session.changedByRun) go through this: a slice arriving after a pause is drawn at once, a burst
// is drawn once per interval, and nothing asked for is left undrawn.
describe('RateLimited', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs the first request at once and folds a burst into one run when the interval has passed', () => {
    const runs: number[] = [];
    const r = new RateLimited(1000, () => runs.push(performance.now()));
    const t0 = performance.now();
    r.request();
    expect(runs).toEqual([t0]);
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(40);
      r.request();
    }
    expect(runs).toHaveLength(1);
    vi.advanceTimersByTime(1000 - 20 * 40);
    expect(runs).toEqual([t0, t0 + 1000]);
    // nothing asked since: no more runs
    vi.advanceTimersByTime(5000);
    expect(runs).toHaveLength(2);
    // after a pause longer than the interval, at once again
    r.request();
    expect(runs).toHaveLength(3);
    expect(runs[2]).toBe(t0 + 6000);
  });

  it('run() runs now in place of the pending run; cancel() drops it', () => {
    let n = 0;
    const r = new RateLimited(500, () => n++);
    r.request();
    r.request();
    expect(n).toBe(1);
    r.run();
    expect(n).toBe(2);
    vi.advanceTimersByTime(2000);
    expect(n).toBe(2);
    r.request();
    vi.advanceTimersByTime(100);
    r.request();
    r.cancel();
    vi.advanceTimersByTime(2000);
    expect(n).toBe(3);
  });
});

import type { EngineEvent } from '../protocol.ts';

type Progress = Extract<EngineEvent, { type: 'progress' }>;

/** 75 -> "1 min 15 s", 8.2 -> "9 s": ETA and elapsed as a person reads them in a log. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * Plain progress lines for output that is not a terminal (a log file, a cluster job, a pipe),
 * where a redrawn bar is noise: the first progress event, then at most one line every
 * `everySeconds` (default 5 s; QUORUM_PROGRESS_SECONDS overrides it), each complete in itself.
 */
export class ProgressLines {
  private last = Number.NEGATIVE_INFINITY;
  private readonly t0 = performance.now();
  private readonly everyMs: number;

  constructor(
    private readonly write: (line: string) => void,
    everySeconds = Number(process.env.QUORUM_PROGRESS_SECONDS) || 5,
  ) {
    this.everyMs = everySeconds * 1000;
  }

  /** `where`: the case (and its place in a dataset run), e.g. "pat3 (case 2/5)". */
  update(e: Progress, where: string): void {
    const now = performance.now();
    if (now - this.last < this.everyMs) return;
    this.last = now;
    const pct = Math.floor((100 * e.done) / Math.max(1, e.total));
    this.write(
      `progress: ${where}: ${e.done}/${e.total} slices done (${pct}%), step ${e.step}/${e.steps}, ` +
        `${duration((now - this.t0) / 1000)} elapsed, ETA ${duration(e.etaSeconds)}`,
    );
  }
}

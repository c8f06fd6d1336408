/**
 * Runs `fn` at most once per `ms`: at once when the last run is that old, else once when it is
 * (the requests in between fold into that one run). For the redraws and repaints a running
 * proposal asks for many times a second (viewer.proposalChanged, Session.changedByRun).
 */
export class RateLimited {
  private last = Number.NEGATIVE_INFINITY;
  private timer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly ms: number,
    private readonly fn: () => void,
  ) {}

  request(): void {
    if (this.timer !== undefined) return;
    const wait = this.last + this.ms - performance.now();
    if (wait <= 0) this.run();
    else this.timer = setTimeout(() => this.run(), wait);
  }

  /** Runs now, in place of a pending run. */
  run(): void {
    this.cancel();
    this.last = performance.now();
    this.fn();
  }

  /** Drops a pending run. */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

import { QuorumError } from '../../../core/src/errors.ts';
import type { EngineClient } from '../client.ts';
import type { EngineEvent, ProposeRequest, ProposeSummary } from '../protocol.ts';

/**
 * Fair use of the one engine by every connection of a host. Runs are cut into slice batches (by
 * the caller, with sliceBatches); the scheduler sends one batch at a time to the engine, taking the next from the
 * next connection in turn and, within a connection, from its next run in turn (round robin). A
 * connection that had nothing queued takes the next turn, so a colleague's single slice waits
 * for the batch in flight only, not for someone's whole volume. Cancelling a run drops its queued
 * batches here (they never reach the engine) and cancels the batch in flight, which the engine
 * stops at its next denoising step.
 * Other engine work takes turns the same way (submitTasks: a rigid registration per sequence).
 */

/**
 * Images (slices x members) per engine batch when the host cuts a run: one slice at the
 * recommended 5 members. A single slice asked for meanwhile waits for at most one such batch
 * (goal: <= 2x its time on an idle host, bench/load.bench.ts); bigger batches save little on a
 * CPU (about 1.8 s against 2.2 s a slice at 40 images, 2 cores) and would make it wait longer.
 */
export const BATCH_IMAGES = 5;

/**
 * `request` cut into batches of consecutive `slices` (native k, in order), `batchImages` images
 * each at the request's members; `starts[i]` is the index in `slices` where batch i begins.
 */
export function sliceBatches(
  request: ProposeRequest,
  slices: number[],
  batchImages = BATCH_IMAGES,
): { batches: ProposeRequest[]; starts: number[]; perBatch: number } {
  const perBatch = Math.max(1, Math.floor(batchImages / Math.max(1, request.members ?? 1)));
  const batches: ProposeRequest[] = [];
  const starts: number[] = [];
  for (let i = 0; i < slices.length; i += perBatch) {
    const chunk = slices.slice(i, i + perBatch);
    starts.push(i);
    batches.push({ ...request, slices: [chunk[0], chunk[chunk.length - 1]] });
  }
  return { batches, starts, perBatch };
}

export interface ScheduledRun<T = ProposeSummary> {
  /** Settles when the run's last batch has (summaries in batch order) or a batch failed. */
  result: Promise<T[]>;
  cancel(): void;
}

/**
 * Engine work other than a proposal batch that takes a turn like one (a rigid registration of one
 * sequence): started when its turn comes, with a cancel that stops it in the engine.
 */
export type EngineTask = (engine: EngineClient) => { result: Promise<unknown>; cancel(): void };

/** A turn as it starts and ends in the engine (diagnostics; tests assert the order of turns). */
export interface SchedulerTurn {
  phase: 'start' | 'end';
  owner: string;
  /** 'propose' for a proposal batch, else the task's label (e.g. "register t1c of case"). */
  what: string;
  /** The batch's index in its run. */
  batch: number;
}

export interface SchedulerState {
  /** Runs queued or in flight. */
  runs: number;
  /** Batches waiting in the host queue. */
  queuedBatches: number;
  /** Whether a batch is in the engine now. */
  busy: boolean;
  /** Totals since the start. */
  batchesSent: number;
  batchesDropped: number;
  /** Batches the engine stopped part-way on a cancel (it answered 'cancelled'). */
  batchesCancelledInEngine: number;
}

interface Run {
  owner: string;
  batches: (ProposeRequest | EngineTask)[];
  what: string;
  sent: number;
  summaries: unknown[];
  onEvent: (e: EngineEvent, batch: number) => void;
  resolve(s: unknown[]): void;
  reject(e: unknown): void;
  cancelled: boolean;
  settled: boolean;
  inFlight?: { cancel(): void };
}

export class EngineScheduler {
  /** Connections with queued batches, in turn order; each with its runs in turn order. */
  private readonly queue = new Map<string, Run[]>();
  private readonly live = new Set<Run>();
  private busy = false;
  private idle: (() => void)[] = [];
  private totals = { batchesSent: 0, batchesDropped: 0, batchesCancelledInEngine: 0 };
  private readonly turnListeners = new Set<(t: SchedulerTurn) => void>();

  constructor(private readonly engine: () => Promise<EngineClient>) {}

  /** Queues a run of `batches` (engine requests) for connection `owner`. */
  submit(
    owner: string,
    batches: ProposeRequest[],
    onEvent: (e: EngineEvent, batch: number) => void,
  ): ScheduledRun {
    return this.enqueue(owner, batches, 'propose', onEvent) as ScheduledRun;
  }

  /**
   * Queues engine `tasks` (each one turn, in order) for connection `owner`, in turns with the
   * proposal batches: a registration waits for the batch in flight, and a whole-volume proposal
   * of another connection waits for the registration's turn, not for its whole case.
   */
  submitTasks(owner: string, what: string, tasks: EngineTask[]): ScheduledRun<unknown> {
    return this.enqueue(owner, tasks, what, () => {});
  }

  /** Calls `listener` as each turn starts and ends in the engine; returns the unsubscribe. */
  onTurn(listener: (t: SchedulerTurn) => void): () => void {
    this.turnListeners.add(listener);
    return () => this.turnListeners.delete(listener);
  }

  private enqueue(
    owner: string,
    batches: (ProposeRequest | EngineTask)[],
    what: string,
    onEvent: (e: EngineEvent, batch: number) => void,
  ): ScheduledRun<unknown> {
    let run!: Run;
    const result = new Promise<unknown[]>((resolve, reject) => {
      run = {
        owner,
        batches,
        what,
        sent: 0,
        summaries: [],
        onEvent,
        resolve,
        reject,
        cancelled: false,
        settled: false,
      };
    });
    if (!batches.length) {
      run.settled = true;
      run.resolve([]);
      return { result, cancel: () => {} };
    }
    this.live.add(run);
    const runs = this.queue.get(owner);
    if (runs) runs.push(run);
    else {
      // A connection with nothing queued goes first: the others have been served meanwhile
      // (the one in flight was just served and is at the back).
      const rest = [...this.queue];
      this.queue.clear();
      this.queue.set(owner, [run]);
      for (const [o, r] of rest) this.queue.set(o, r);
    }
    this.pump();
    return { result, cancel: () => this.cancel(run) };
  }

  get state(): SchedulerState {
    let queuedBatches = 0;
    for (const runs of this.queue.values()) for (const r of runs) queuedBatches += r.batches.length - r.sent;
    return { runs: this.live.size, queuedBatches, busy: this.busy, ...this.totals };
  }

  /** Resolves once no batch is in the engine (at once when none is). */
  whenIdle(): Promise<void> {
    return this.busy ? new Promise((r) => this.idle.push(r)) : Promise.resolve();
  }

  private cancel(run: Run) {
    if (run.settled || run.cancelled) return;
    run.cancelled = true;
    this.totals.batchesDropped += run.batches.length - run.sent;
    this.unqueue(run);
    if (run.inFlight) {
      // The engine stops at its next step and answers 'cancelled'; the run settles then.
      run.inFlight.cancel();
      return;
    }
    this.settle(run, new QuorumError('cancelled', 'cancelled'));
  }

  private unqueue(run: Run) {
    const runs = this.queue.get(run.owner);
    if (!runs) return;
    const i = runs.indexOf(run);
    if (i >= 0) runs.splice(i, 1);
    if (!runs.length) this.queue.delete(run.owner);
  }

  private settle(run: Run, error?: unknown) {
    if (run.settled) return;
    run.settled = true;
    this.live.delete(run);
    this.unqueue(run);
    if (error) run.reject(error);
    else run.resolve(run.summaries);
  }

  /** The next batch: first run of the first connection in turn; both rotate to the back. */
  private next(): { run: Run; index: number } | undefined {
    const first = this.queue.entries().next();
    if (first.done) return undefined;
    const [owner, runs] = first.value;
    const run = runs.shift() as Run;
    const index = run.sent++;
    this.queue.delete(owner);
    if (run.sent < run.batches.length) runs.push(run);
    if (runs.length) this.queue.set(owner, runs); // back of the turn order
    return { run, index };
  }

  private pump() {
    if (this.busy) return;
    const picked = this.next();
    if (!picked) {
      for (const r of this.idle.splice(0)) r();
      return;
    }
    this.busy = true;
    const { run, index } = picked;
    this.totals.batchesSent++;
    const turn = { owner: run.owner, what: run.what, batch: index };
    for (const l of this.turnListeners) l({ phase: 'start', ...turn });
    const done = () => {
      run.inFlight = undefined;
      this.busy = false;
      for (const l of this.turnListeners) l({ phase: 'end', ...turn });
      this.pump();
    };
    this.engine().then(
      (engine) => {
        const job = run.batches[index];
        const h =
          typeof job === 'function'
            ? job(engine)
            : engine.propose(job, (e) => {
                if (!run.settled) run.onEvent(e, index);
              });
        run.inFlight = h;
        if (run.cancelled) h.cancel();
        h.result.then(
          (summary) => {
            run.summaries[index] = summary;
            if (!run.cancelled && index === run.batches.length - 1) this.settle(run);
            else if (run.cancelled) this.settle(run, new QuorumError('cancelled', 'cancelled'));
            done();
          },
          (e: unknown) => {
            if ((e as QuorumError)?.code === 'cancelled') this.totals.batchesCancelledInEngine++;
            if (!run.cancelled) this.totals.batchesDropped += run.batches.length - run.sent;
            this.settle(run, e);
            done();
          },
        );
      },
      (e: unknown) => {
        this.settle(run, e);
        done();
      },
    );
  }
}

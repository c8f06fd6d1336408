import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type {
  DatasetEvent,
  PrelabelParams,
  PrelabelQueue,
  PrelabelState,
  Worklist,
  WorklistCase,
  WorklistStatus,
} from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { writeFileAtomic } from '../../../core/src/node/atomic.ts';
import { openCase } from '../../../core/src/node/case.ts';
import { completeReport } from '../case-report.ts';
import type { EngineClient } from '../client.ts';
import { listDatasetCases } from '../dataset-cases.ts';
import { type ProposeCaseRun, proposeCaseToDir } from '../propose-case.ts';
import { caseLabelFile, labelsFolder, scoreAgainstLabel } from './dataset-labels.ts';
import { type ScheduledCaseOptions, scheduledRunner } from './prelabel-run.ts';
import { projectDirFor } from './project-dir.ts';
import {
  fromReport,
  type OpenCase,
  PROJECT_VERSION,
  type ProjectFile,
  readProjectFile,
  type StoredCase,
  worklistOrder,
  worklistRow,
} from './project-file.ts';

export { projectDirFor };

export interface WorklistOptions {
  /** App state folder: where the project goes when the dataset's parent folder is read-only. */
  stateDir: string;
  engine: () => Promise<EngineClient>;
  /** Settings for what prelabel params leave out (the model's recommendation). */
  defaults?: PrelabelParams;
  /** The host's engine scheduler: cases go through it in slice batches, in their own turn (prelabel-run.ts). */
  scheduled?: Omit<ScheduledCaseOptions, 'engine' | 'owner'>;
}

/**
 * A dataset folder worked through as a worklist. State lives in a project folder NEXT TO the
 * image folder (`<parent>/<name>.quorum/`: project.json + proposals/<case>/), never inside it;
 * when the parent is read-only, in the app's state folder instead. The proposals folder has the
 * layout of `quorum propose-dataset --out`, so a dataset pre-labelled on a cluster with
 * `--out <name>.quorum/proposals` opens here as proposed.
 *
 * Pre-labelling is one queue per dataset on the app's one engine: one case at a time, pausable,
 * and persisted, so a queue left running resumes when the dataset is opened after a restart.
 * A case whose proposal is interrupted has no report.json and is simply redone.
 */
export class DatasetWorklist {
  readonly id: string;
  readonly folder: string;
  readonly projectDir: string;
  readonly projectFile: string;
  readonly proposalsDir: string;
  private cases = new Map<string, OpenCase>();
  private queueState: PrelabelState = 'idle';
  private params: PrelabelParams = {};
  private current?: { name: string; run?: ProposeCaseRun };
  private loop?: Promise<void>;
  private listeners = new Set<(e: DatasetEvent) => void>();
  private warnings: string[];
  /** Why the queue last stopped on an error (PrelabelQueue.error); cleared by a new start. */
  private queueError?: string;

  private constructor(
    folder: string,
    private readonly opts: WorklistOptions,
  ) {
    this.folder = resolve(folder);
    this.id = this.folder;
    const where = projectDirFor(this.folder, opts.stateDir);
    this.projectDir = where.dir;
    this.warnings = where.warnings;
    this.projectFile = join(this.projectDir, 'project.json');
    this.proposalsDir = join(this.projectDir, 'proposals');
  }

  /**
   * Opens a dataset: its subfolders merged with the project file (new subfolders appear as new,
   * vanished ones are dropped, proposals found on disk count as proposed). A queue saved as
   * running starts again.
   */
  static open(folder: string, opts: WorklistOptions): DatasetWorklist {
    const root = resolve(folder);
    if (!existsSync(root) || !statSync(root).isDirectory())
      throw new QuorumError('not-found', 'no such folder', folder);
    const w = new DatasetWorklist(root, opts);
    const stored = readProjectFile(w.projectFile);
    const byName = new Map(stored?.cases.map((c) => [c.name, c]));
    // A labels/ folder beside the cases holds their existing labels: not a case itself.
    const labelsDir = labelsFolder(root);
    for (const { name, path } of listDatasetCases(root, labelsDir ? [labelsDir] : [])) {
      const s: StoredCase = byName.get(name) ?? { name, status: 'new', secondsSpent: 0 };
      if (s.reviewStartedAt && stored) {
        // The app stopped mid-review: count the period up to the last save, not the downtime.
        s.secondsSpent += Math.max(0, (Date.parse(stored.savedAt) - Date.parse(s.reviewStartedAt)) / 1000);
        s.reviewStartedAt = new Date().toISOString();
      }
      const labelPath = caseLabelFile(labelsDir, name, path);
      w.cases.set(name, { ...s, path, ...(labelPath ? { labelPath } : {}) });
      w.adoptProposal(name);
    }
    if (stored) {
      w.params = stored.queue.params ?? {};
      if (stored.queue.state === 'paused') w.queueState = 'paused';
    }
    mkdirSync(w.projectDir, { recursive: true });
    w.save();
    if (stored?.queue.state === 'running') w.start();
    return w;
  }

  /**
   * A complete proposal on disk (this queue's or a CLI run's) makes a new case proposed; the queue
   * adopts it only when it holds the outputs asked for (PrelabelParams.exports).
   */
  private adoptProposal(name: string, exports?: PrelabelParams['exports']): boolean {
    const c = this.cases.get(name)!;
    const r = completeReport(join(this.proposalsDir, name), { exports });
    if (!r) return false;
    fromReport(c, r);
    if (c.status === 'new') c.status = 'proposed';
    return true;
  }

  private save(): void {
    const file: ProjectFile = {
      quorumProject: PROJECT_VERSION,
      folder: this.folder,
      savedAt: new Date().toISOString(),
      queue: { state: this.queueState, params: this.params },
      cases: [...this.cases.values()].map(({ path: _p, labelPath: _l, ...c }) => c),
    };
    writeFileAtomic(this.projectFile, `${JSON.stringify(file, null, 1)}\n`);
  }

  /**
   * The queue loop's save: a project file that cannot be written (a full disk, a folder gone
   * read-only) pauses the queue with the reason, reported in the queue event and PrelabelQueue;
   * it never escapes the loop, where it would be an unhandled rejection that ends the host.
   */
  private saveOrStop(): boolean {
    try {
      this.save();
      return true;
    } catch (e) {
      this.stopOnError(`the project file could not be saved (${(e as Error).message}); pre-labelling paused`);
      return false;
    }
  }

  private stopOnError(message: string): void {
    this.queueError = message;
    if (this.queueState === 'running') this.queueState = 'paused';
  }

  private view(c: OpenCase): WorklistCase {
    return worklistRow(c, this.proposalsDir);
  }

  /**
   * A proposed case with an existing label: how much they disagree (dataset-labels.ts). A label
   * that cannot be read is said in the worklist's warnings; opening the case says it again.
   */
  private async scoreLabel(c: OpenCase): Promise<void> {
    if (!c.labelPath) return;
    try {
      const d = await scoreAgainstLabel(c.path, c.labelPath, join(this.proposalsDir, c.name));
      c.labelDisagreement = Math.round(d.score * 10000) / 10000;
      c.labelDice = Math.round(d.dice * 10000) / 10000;
    } catch (e) {
      this.warnings.push(
        `${c.name}: its label could not be compared with the proposal (${(e as Error).message})`,
      );
    }
  }

  /** The cases in worklist order (project-file.ts worklistOrder). */
  private ordered(): OpenCase[] {
    return [...this.cases.values()].sort(worklistOrder);
  }

  private pendingCases(): OpenCase[] {
    return [...this.cases.values()]
      .filter((c) => c.status === 'new' && !c.error)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  queue(): PrelabelQueue {
    return {
      state: this.queueState,
      params: this.params,
      current: this.current?.name,
      pending: this.pendingCases().length,
      ...(this.queueError ? { error: this.queueError } : {}),
    };
  }

  worklist(): Worklist {
    return {
      id: this.id,
      folder: this.folder,
      projectFile: this.projectFile,
      cases: this.ordered().map((c) => this.view(c)),
      queue: this.queue(),
      warnings: [...this.warnings],
    };
  }

  private get(name: string) {
    const c = this.cases.get(name);
    if (!c) throw new QuorumError('bad-argument', `no case ${name} in this dataset`, this.folder);
    return c;
  }

  setStatus(name: string, status: WorklistStatus): WorklistCase {
    if (!['new', 'proposed', 'in-review', 'done'].includes(status))
      throw new QuorumError('bad-argument', `unknown case status ${String(status)}`);
    const c = this.get(name);
    const now = Date.now();
    if (c.reviewStartedAt && status !== 'in-review') {
      c.secondsSpent += (now - Date.parse(c.reviewStartedAt)) / 1000;
      c.reviewStartedAt = undefined;
    }
    if (status === 'in-review' && !c.reviewStartedAt) {
      c.reviewStartedAt = new Date(now).toISOString();
      // One annotator reviews one case at a time: opening this one stops the clock of a case
      // left in review without "Done" (it stays in review, its time is kept).
      for (const o of this.cases.values())
        if (o !== c && o.reviewStartedAt) {
          o.secondsSpent += (now - Date.parse(o.reviewStartedAt)) / 1000;
          o.reviewStartedAt = undefined;
        }
    }
    c.status = status;
    this.save();
    return this.view(c);
  }

  /** The next case not done in worklist order, starting after `after` and wrapping around. */
  next(after?: string): WorklistCase | null {
    const list = this.ordered();
    const at = after === undefined ? -1 : list.findIndex((c) => c.name === after);
    for (let i = 1; i <= list.length; i++) {
      const c = list[(at + i + list.length) % list.length];
      if (c.status !== 'done' && c.name !== after) return this.view(c);
    }
    return null;
  }

  private emit(e: DatasetEvent) {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch {}
    }
  }

  private emitQueue() {
    const q = this.queue();
    this.emit({ type: 'queue', datasetId: this.id, state: q.state, pending: q.pending, error: q.error });
    if (q.state !== 'running') this.listeners.clear();
  }

  subscribe(l: (e: DatasetEvent) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Starts or resumes the queue (params apply when it was not running). */
  start(params?: PrelabelParams): PrelabelQueue {
    if (this.queueState !== 'running') {
      if (params && Object.keys(params).length) this.params = { ...params };
      // A new start retries the cases that failed before.
      for (const c of this.cases.values()) c.error = undefined;
      this.queueError = undefined;
      const was = this.queueState;
      this.queueState = 'running';
      try {
        this.save();
      } catch (e) {
        this.queueState = was; // not started: the caller gets the error
        throw e;
      }
    }
    this.loop ??= this.runQueue()
      .catch((e) => {
        // Not expected (every step below reports its own errors): still never fatal to the host.
        this.stopOnError(`pre-labelling stopped: ${(e as Error).message}`);
        this.current = undefined;
        this.emitQueue();
      })
      .finally(() => {
        this.loop = undefined;
      });
    return this.queue();
  }

  /** Pauses: the case in flight is cancelled (it is redone on resume). Resolves once stopped. */
  async pause(): Promise<PrelabelQueue> {
    if (this.queueState === 'running') {
      this.queueState = 'paused';
      this.save();
      this.current?.run?.cancel();
    }
    await this.loop;
    return this.queue();
  }

  /** Stops the loop without changing the saved state (app shutdown: a running queue resumes next time). */
  async close(): Promise<void> {
    const saved = this.queueState;
    this.queueState = saved === 'running' ? 'paused' : saved;
    this.current?.run?.cancel();
    await this.loop;
    this.queueState = saved;
    this.listeners.clear();
  }

  private async runQueue(): Promise<void> {
    this.emitQueue();
    const crashed = new Set<string>();
    while (this.queueState === 'running') {
      const c = this.pendingCases()[0];
      if (!c) {
        // Proposals adopted from disk (a CLI run) are compared with their labels here.
        for (const x of this.cases.values())
          if (x.labelPath && x.labelDisagreement === undefined && x.uncertaintyMl !== undefined) {
            if (this.queueState !== 'running') break;
            await this.scoreLabel(x);
          }
        if (this.queueState !== 'running') break;
        this.queueState = 'idle';
        this.saveOrStop();
        break;
      }
      this.current = { name: c.name };
      this.emit({ type: 'case-started', datasetId: this.id, case: c.name });
      const outDir = join(this.proposalsDir, c.name);
      try {
        if (!this.adoptProposal(c.name, this.params.exports)) {
          const kase = await openCase(c.path);
          const engine = await this.opts.engine();
          if (this.queueState !== 'running') break;
          const { scheduled } = this.opts;
          const run = proposeCaseToDir(
            scheduled
              ? scheduledRunner({ ...scheduled, engine: this.opts.engine, owner: `prelabel ${this.id}` })
              : engine,
            kase,
            outDir,
            { ...this.opts.defaults, ...this.params },
            (e) => {
              if (e.type === 'progress')
                this.emit({
                  type: 'case-progress',
                  datasetId: this.id,
                  case: c.name,
                  slicesDone: e.done,
                  slicesTotal: e.total,
                  etaSeconds: e.etaSeconds,
                });
            },
          );
          this.current.run = run;
          fromReport(c, await run.result);
          // The user may have opened it meanwhile: keep a status they set.
          if (c.status === 'new') c.status = 'proposed';
        }
        await this.scoreLabel(c);
        const saved = this.saveOrStop();
        this.emit({ type: 'case-done', datasetId: this.id, case: this.view(c) });
        if (!saved) break;
      } catch (e) {
        const err = e as Error & { code?: string };
        if (err.code === 'cancelled' && this.queueState !== 'running') break;
        // A crashed engine is restarted by the next request: give the case one more try.
        if (err.code === 'worker-crashed' && !crashed.has(c.name)) {
          crashed.add(c.name);
          continue;
        }
        c.error = err.message;
        const saved = this.saveOrStop();
        this.emit({ type: 'case-error', datasetId: this.id, case: this.view(c) });
        if (!saved) break;
        // A disk that is full for this case's outputs is full for the next ones: stop, say why.
        if (['ENOSPC', 'EDQUOT', 'EROFS'].includes(err.code ?? '')) {
          this.stopOnError(`${c.name}: ${err.message}; pre-labelling paused`);
          this.saveOrStop();
          break;
        }
      } finally {
        this.current = undefined;
      }
    }
    this.current = undefined;
    this.emitQueue();
  }
}

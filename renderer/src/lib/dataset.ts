import type {
  CaseInfo,
  DatasetEvent,
  PrelabelParams,
  QuorumApi,
  Worklist,
  WorklistCase,
} from '../../../core/src/api.ts';
import { NOTHING_PROPOSED } from '../../../core/src/metrics.ts';
import { errorMessage } from '../api.ts';
import type { Session } from './session.ts';

/** The marker of a low-confidence case, in the worklist table and over the viewer. */
export const LOW_CONFIDENCE = 'low confidence: review this case first';

/**
 * A case confidence as shown, 0.00-1.00, '–' when unknown. Rounded down, so a confidence just
 * under the threshold never shows as the threshold itself.
 */
export function fmtConfidence(v?: number): string {
  return v === undefined ? '–' : (Math.floor(v * 100 + 1e-9) / 100).toFixed(2);
}

/** The worklist's marker of a low-confidence case (NOTHING_PROPOSED added when its proposal is empty). */
export function lowConfidenceMarker(c: WorklistCase): string {
  return c.lesionVolumeMl === 0 ? `${LOW_CONFIDENCE} · ${NOTHING_PROPOSED}` : LOW_CONFIDENCE;
}

/** The viewer's notice for a case opened for review whose proposal was low-confidence. */
export function lowConfidenceNotice(c: WorklistCase): string | undefined {
  if (!c.lowConfidence) return undefined;
  const first = LOW_CONFIDENCE[0].toUpperCase() + LOW_CONFIDENCE.slice(1);
  const level = c.confidence === undefined ? '' : ` (agreement ${fmtConfidence(c.confidence)})`;
  if (c.lesionVolumeMl === 0)
    return (
      `${first}. Nothing was proposed: the ensemble members marked only small regions that no majority of ` +
      `them shares${level}. A lesion-free scan looks like this, and so does a lesion the model missed: ` +
      'check the scan for one.'
    );
  const agree =
    c.confidence === undefined
      ? 'Its ensemble members disagree'
      : `Its ensemble members agree at only ${fmtConfidence(c.confidence)} (1 = full agreement)`;
  return `${first}. ${agree}, so the pre-labelled proposal may have failed: check it slice by slice.`;
}

/** Pre-labelling progress of one case, from the queue's case-progress events. */
export interface CaseProgress {
  slicesDone: number;
  slicesTotal: number;
  etaSeconds?: number;
}

/** What the dataset panel shows (DatasetPanel.svelte keeps it in $state). */
export interface DatasetState {
  worklist?: Worklist;
  /** Date.now() when `worklist` was fetched (the in-review case's time runs on from there). */
  fetchedAt: number;
  /** Opening the dataset or a case. */
  busy: boolean;
  error?: string;
  notice?: string;
  /** The case opened from this panel (the one "Done → next" finishes) and its Session case id. */
  current?: string;
  caseId?: string;
  progress: Record<string, CaseProgress>;
}

/**
 * Dataset mode in the renderer: opens a folder as a worklist (QuorumApi.openDataset), drives the
 * host's pre-labelling queue and opens cases for review in the Session, with their pre-labelled
 * proposal (QuorumApi.loadProposal → Session.addProposalSlices) unless the case journal already
 * restored one.
 */
export class DatasetController {
  state: DatasetState = { fetchedAt: 0, busy: false, progress: {} };
  private listeners = new Set<(s: DatasetState) => void>();

  constructor(
    readonly api: QuorumApi,
    readonly session: Session,
  ) {}

  subscribe(cb: (s: DatasetState) => void): () => void {
    this.listeners.add(cb);
    cb(this.state);
    return () => this.listeners.delete(cb);
  }

  private set(patch: Partial<DatasetState>) {
    this.state = { ...this.state, ...patch };
    for (const cb of this.listeners) cb(this.state);
  }

  private setWorklist(w: Worklist) {
    this.set({ worklist: w, fetchedAt: Date.now() });
  }

  /** Native folder dialog (Electron); undefined when there is none or it was cancelled. */
  async pickFolder(): Promise<string | undefined> {
    if (!(await this.api.getAppInfo()).nativeDialogs) return undefined;
    return (await this.api.pickPaths('folder'))?.[0];
  }

  async open(folder: string): Promise<void> {
    const f = folder.trim();
    if (!f) return;
    this.set({ busy: true, error: undefined, notice: undefined });
    try {
      const w = await this.api.openDataset(f);
      this.set({ current: undefined, caseId: undefined, progress: {} });
      this.setWorklist(w);
      // A queue left running (resumed by the host on open): follow its events.
      if (w.queue.state === 'running') await this.prelabel({});
    } catch (e) {
      this.set({ error: errorMessage(e) });
    } finally {
      this.set({ busy: false });
    }
  }

  async refresh(): Promise<void> {
    const w = this.state.worklist;
    if (!w) return;
    try {
      this.setWorklist(await this.api.getWorklist(w.id));
    } catch (e) {
      this.set({ error: errorMessage(e) });
    }
  }

  /** Starts (or subscribes to) the pre-labelling queue. */
  async prelabel(params: PrelabelParams): Promise<void> {
    const w = this.state.worklist;
    if (!w) return;
    this.set({ error: undefined });
    try {
      const queue = await this.api.prelabel(w.id, params, (e) => this.onEvent(e));
      if (this.state.worklist?.id === w.id) this.set({ worklist: { ...this.state.worklist, queue } });
    } catch (e) {
      this.set({ error: errorMessage(e) });
    }
  }

  async pause(): Promise<void> {
    const w = this.state.worklist;
    if (!w) return;
    try {
      await this.api.pausePrelabel(w.id);
    } catch (e) {
      this.set({ error: errorMessage(e) });
    }
    await this.refresh();
  }

  private onEvent(e: DatasetEvent) {
    const w = this.state.worklist;
    if (e.type === 'disconnected') {
      // The host went away: nothing more will come from this subscription.
      if (w) this.set({ progress: {}, error: e.message });
      return;
    }
    if (!w || e.datasetId !== w.id) return;
    if (e.type === 'case-progress') {
      const { slicesDone, slicesTotal, etaSeconds } = e;
      this.set({ progress: { ...this.state.progress, [e.case]: { slicesDone, slicesTotal, etaSeconds } } });
    } else if (e.type === 'case-started') {
      this.set({
        progress: { ...this.state.progress, [e.case]: { slicesDone: 0, slicesTotal: 0 } },
        worklist: { ...w, queue: { ...w.queue, current: e.case } },
      });
    } else if (e.type === 'case-done' || e.type === 'case-error') {
      const { [e.case.name]: _done, ...rest } = this.state.progress;
      this.set({ progress: rest });
      void this.refresh();
    } else if (e.type === 'queue') {
      if (e.state !== 'running') this.set({ progress: {} });
      this.set({
        worklist: { ...w, queue: { ...w.queue, state: e.state, pending: e.pending, error: e.error } },
      });
      if (e.state !== 'running') void this.refresh();
    }
  }

  /**
   * Opens a case for review: into the Session, status in-review, and its pre-labelled proposal
   * when it has one and the case journal did not already restore proposal slices (a case
   * reviewed before comes back as it was left). A low-confidence proposal (restored or not) puts
   * a notice over the viewer.
   */
  async openCase(name: string): Promise<void> {
    const w = this.state.worklist;
    const c = w?.cases.find((x) => x.name === name);
    if (!w || !c) return;
    this.set({ busy: true, error: undefined, notice: undefined });
    try {
      let info: CaseInfo | undefined;
      await this.session.open(async () => {
        // A case with an existing label opens with it as the starting labelmap.
        info = await this.api.openCase(c.path, c.labelPath ? { labels: c.labelPath } : undefined);
        return info;
      });
      // Session.open reports its own failures (ui.error) and keeps the previous case.
      if (!info || this.session.caseInfo !== info) return;
      // Read now: the user may dismiss the restored notice while the calls below run.
      const restoredProposal = (this.session.ui.restored?.proposalSlices ?? 0) > 0;
      this.set({ current: name, caseId: info.id });
      // The host's view of the case is fresher than the list (it may have been proposed since).
      const now = await this.api.setCaseStatus(w.id, name, 'in-review');
      if (this.session.caseInfo === info) this.session.warnCase(lowConfidenceNotice(now));
      if (now.proposalDir && !restoredProposal) {
        const slices = await this.api.loadProposal(info.id, now.proposalDir);
        if (this.session.caseInfo === info) this.session.addProposalSlices(slices);
      }
      // Start where the reviewer is needed most.
      if (this.session.caseInfo === info && this.session.proposals?.slices.size) this.session.nextUncertain();
      await this.refresh();
    } catch (e) {
      this.set({ error: errorMessage(e) });
    } finally {
      this.set({ busy: false });
    }
  }

  /** Marks the current case done and opens the next one not done, in worklist order. */
  async doneNext(): Promise<void> {
    const w = this.state.worklist;
    const name = this.reviewing();
    if (!w || !name) return;
    let next: WorklistCase | null;
    try {
      await this.api.setCaseStatus(w.id, name, 'done');
      next = await this.api.nextCase(w.id, name);
    } catch (e) {
      this.set({ error: errorMessage(e) });
      return;
    }
    await this.refresh();
    if (next) await this.openCase(next.name);
    else this.set({ current: undefined, caseId: undefined, notice: 'All cases are done.' });
  }

  /** The panel's case when it is still the one open (another may have been opened meanwhile). */
  reviewing(): string | undefined {
    const { current, caseId } = this.state;
    return current && caseId && this.session.caseInfo?.id === caseId ? current : undefined;
  }
}

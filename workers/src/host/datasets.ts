import { resolve } from 'node:path';
import type { DatasetEvent, PrelabelParams, WorklistStatus } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import type { Connection } from './connections.ts';
import { DatasetWorklist, type WorklistOptions } from './worklist.ts';

/** The open datasets (dataset mode) of one QuorumService, by id; the service delegates to it. */
export class DatasetRegistry {
  private datasets = new Map<string, DatasetWorklist>();

  constructor(private readonly opts: WorklistOptions) {}

  async openDataset(folder: string) {
    const root = resolve(folder);
    let w = this.datasets.get(root);
    if (!w) {
      w = DatasetWorklist.open(root, this.opts);
      this.datasets.set(w.id, w);
    }
    return w.worklist();
  }

  async getWorklist(datasetId: string) {
    return this.dataset(datasetId).worklist();
  }

  async setCaseStatus(datasetId: string, caseName: string, status: WorklistStatus) {
    return this.dataset(datasetId).setStatus(caseName, status);
  }

  async nextCase(datasetId: string, after?: string) {
    return this.dataset(datasetId).next(after ?? undefined);
  }

  async prelabel(
    datasetId: string,
    params: PrelabelParams,
    onEvent: (e: DatasetEvent) => void,
    conn: Connection,
  ) {
    const w = this.dataset(datasetId);
    const unsubscribe = w.subscribe(onEvent);
    const drop = () => {
      unsubscribe();
      conn.subscriptions.delete(drop);
    };
    conn.subscriptions.add(drop);
    return w.start(params ?? {});
  }

  /** Transports call this when the subscriber goes away (the queue itself keeps running). */
  unsubscribePrelabel(datasetId: string, onEvent: (e: DatasetEvent) => void): void {
    this.datasets.get(datasetId)?.subscribe(onEvent)();
  }

  async pausePrelabel(datasetId: string) {
    return this.dataset(datasetId).pause();
  }

  /** Saved state untouched: a queue left running resumes when the dataset is opened again. */
  async close(): Promise<void> {
    await Promise.all([...this.datasets.values()].map((w) => w.close()));
  }

  private dataset(id: string): DatasetWorklist {
    const w = this.datasets.get(id) ?? this.datasets.get(resolve(id));
    if (!w) throw new QuorumError('bad-argument', `no open dataset ${id} (openDataset first)`);
    return w;
  }
}

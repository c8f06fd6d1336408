import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type {
  AppInfo,
  CaseInfo,
  DatasetEvent,
  ExportRequest,
  ExportResult,
  JournalRead,
  JournalRecord,
  ModelInfo,
  OpenCaseInput,
  OpenCaseOptions,
  PacsConfig,
  PacsEvent,
  PacsNode,
  PacsQuery,
  PacsStoreRequest,
  PacsStudy,
  PrelabelParams,
  PrelabelQueue,
  ProposalEvent,
  ProposeParams,
  QuorumApi,
  RecentEntry,
  SliceResult,
  UploadedFile,
  VolumeData,
  Worklist,
  WorklistCase,
  WorklistStatus,
} from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { applyLabelsFile } from '../../../core/src/node/labels-file.ts';
import { resolveSampling } from '../../../core/src/sampling.ts';
import type { SequenceName } from '../../../core/src/volume.ts';
import type { EngineClient } from '../client.ts';
import { exportFormatInfo } from '../exports/index.ts';
import { PacsService } from '../pacs/service.ts';
import type { EngineStats } from '../protocol.ts';
import { removeCaseFile } from './case-files.ts';
import { CaseJournals } from './case-journals.ts';
import { describeCase, type LoadedCase, loadCaseToOpen, reassignSequence, referenceVolume } from './cases.ts';
import { type Connection, newConnection } from './connections.ts';
import { DatasetRegistry } from './datasets.ts';
import { exportOpenCase } from './exports.ts';
import { ModelEngine } from './model-engine.ts';
import { storeCaseInPacs } from './pacs-calls.ts';
import { DEFAULT_MODEL_DIR, REPO_ROOT, SAMPLE_CASE, scratchDir } from './paths.ts';
import { loadProposalInto } from './proposal-files.ts';
import { type OpenCase, startProposal } from './propose-run.ts';
import { readRecent, rememberRecent } from './recent.ts';
import { EngineScheduler, type SchedulerState } from './scheduler.ts';
import { saveUploads } from './uploads.ts';
import { toVolumeData } from './volume-data.ts';

export { DEFAULT_MODEL_DIR, REPO_ROOT, SAMPLE_CASE, scratchDir };

export interface HostOptions {
  mode: 'electron' | 'browser';
  modelDir?: string;
  /** Where exports go when a request names no folder. */
  outDir?: string;
  /** Recent list, journals, uploaded files. */
  stateDir?: string;
  initialCase?: string;
  device?: ProposeParams['device'];
  /** Engine factory; default D's EngineClient (spawned lazily at the first proposal). */
  startEngine?: () => Promise<EngineClient>;
  /** Electron supplies native dialogs; browser mode has none. */
  pickPaths?: QuorumApi['pickPaths'];
  chooseExportDir?: (suggested: string) => Promise<string | null>;
  /** Images per engine batch when runs are cut for fair scheduling (scheduler.ts BATCH_IMAGES). */
  batchImages?: number;
  /** How long a PACS may stay silent before a transfer fails (default 15 s). */
  pacsTimeoutMs?: number;
}

/** What the host holds, for diagnostics and the load tests. */
export interface HostCounts {
  connections: number;
  cases: number;
  runs: number;
  caseFiles: number;
  journalLocks: number;
  scheduler: SchedulerState;
}

/**
 * The Node implementation of QuorumApi: one instance per app (Electron main or the browser-mode
 * host). Transport-agnostic: IPC and WebSocket adapters call these methods as they are.
 */
export class QuorumService implements QuorumApi {
  private cases = new Map<string, OpenCase & { conn: Connection }>();
  private runs = new Map<string, { cancel: () => void; caseId: string; conn: Connection }>();
  private readonly connections = new Set<Connection>();
  /** The connection of callers that name none (Electron's window, tests calling the service). */
  readonly local: Connection = newConnection('this app');
  private readonly journals: CaseJournals;
  /** Every proposal of every connection goes through this, in turns (scheduler.ts). */
  readonly scheduler = new EngineScheduler(() => this.model.client());
  private readonly datasets: DatasetRegistry;
  /** The model manifest and the engine process (model-engine.ts). */
  private readonly model: ModelEngine;
  readonly stateDir: string;
  readonly outDir: string;
  /** Configured PACS nodes, study cache, transfers (workers/src/pacs/). */
  readonly pacs: PacsService;

  constructor(readonly opts: HostOptions) {
    this.stateDir = opts.stateDir ?? join(homedir(), '.quorum');
    this.journals = new CaseJournals(this.stateDir);
    this.pacs = new PacsService(this.stateDir, { timeoutMs: opts.pacsTimeoutMs });
    this.outDir = opts.outDir ?? join(homedir(), 'Quorum', 'exports');
    this.model = new ModelEngine(opts);
    this.datasets = new DatasetRegistry({
      stateDir: this.stateDir,
      engine: () => this.model.forModel(),
      defaults: this.model.manifest && resolveSampling(this.model.manifest),
      scheduled: { scheduler: this.scheduler, channels: this.channels, batchImages: opts.batchImages },
    });
  }

  private get channels(): SequenceName[] {
    return this.model.channels;
  }

  async getAppInfo(): Promise<AppInfo> {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    return {
      version: pkg.version,
      mode: this.opts.mode,
      initialCase: this.opts.initialCase,
      sampleCase: existsSync(SAMPLE_CASE) ? SAMPLE_CASE : undefined,
      nativeDialogs: !!this.opts.pickPaths,
      exportFormats: exportFormatInfo(),
    };
  }

  async getModelInfo(): Promise<ModelInfo> {
    return this.model.info();
  }

  openSample(options: OpenCaseOptions = {}, conn: Connection = this.local): Promise<CaseInfo> {
    if (!existsSync(SAMPLE_CASE))
      throw new QuorumError('not-found', 'the sample case is not installed', SAMPLE_CASE);
    return this.openCase(SAMPLE_CASE, options, conn);
  }

  /**
   * With `register: 'rigid'` every sequence is registered in the engine process (register-case.ts),
   * each in its turn of the scheduler. `cancel(options.openId)`, or the connection going, stops
   * the open (and its registration): it rejects with 'cancelled' and opens nothing.
   */
  async openCase(
    input: OpenCaseInput,
    options: OpenCaseOptions = {},
    conn: Connection = this.local,
    uploadDir?: string,
  ): Promise<CaseInfo> {
    // An open in progress is cancellable like a run: by its openId, or with its connection.
    const openId = options.openId ?? randomUUID();
    if (this.runs.has(openId)) throw new QuorumError('bad-argument', `openId ${openId} is already in use`);
    const abort = new AbortController();
    this.runs.set(openId, { cancel: () => abort.abort(), caseId: '', conn });
    conn.runs.add(openId);
    let data: LoadedCase;
    try {
      const scheduled = { scheduler: this.scheduler, owner: conn.id, signal: abort.signal };
      data = await loadCaseToOpen(
        input,
        options?.register === 'rigid',
        () => this.model.forModel(),
        scheduled,
      );
    } finally {
      this.runs.delete(openId);
      conn.runs.delete(openId);
    }
    const labelsIn = options?.labels
      ? await applyLabelsFile(data, resolve(options.labels), referenceVolume(data, this.channels))
      : undefined;
    const id = randomUUID();
    const info = describeCase(id, data, this.channels);
    if (labelsIn) info.labelsIn = labelsIn;
    this.cases.set(id, { info, data, input, proposed: new Set(), conn, uploadDir });
    conn.cases.add(id);
    // An upload folder goes with its case: nothing to reopen later.
    if (!uploadDir) rememberRecent(this.stateDir, input, info.name);
    return info;
  }

  /** A new client (a browser tab, a window); `disconnect` releases all it opened. */
  connect(what: string): Connection {
    const conn = newConnection(what);
    this.connections.add(conn);
    return conn;
  }

  /** The client went: its runs stop, its subscriptions end, its cases and their files go. */
  disconnect(conn: Connection): void {
    if (!this.connections.delete(conn)) return;
    for (const runId of [...conn.runs]) this.runs.get(runId)?.cancel();
    for (const unsubscribe of [...conn.subscriptions]) unsubscribe();
    conn.subscriptions.clear();
    for (const id of [...conn.cases]) this.dropCase(id);
    this.journals.releaseAll(conn);
  }

  /** The engine process's memory and case cache (diagnostics, the bench); undefined before it starts. */
  async engineStats(): Promise<EngineStats | undefined> {
    return this.model.stats();
  }

  /** What the host holds now (diagnostics; the load tests assert on it). */
  counts(): HostCounts {
    let caseFiles = 0;
    for (const c of this.cases.values()) if (c.caseFile) caseFiles++;
    return {
      connections: this.connections.size,
      cases: this.cases.size,
      runs: this.runs.size,
      caseFiles,
      journalLocks: this.journals.size,
      scheduler: this.scheduler.state,
    };
  }

  async openUploaded(
    files: UploadedFile[],
    options: OpenCaseOptions = {},
    conn: Connection = this.local,
  ): Promise<CaseInfo> {
    const { dir, input, drop } = saveUploads(this.stateDir, files);
    return this.openCase(input, options, conn, dir).catch(drop);
  }

  async assignSequence(caseId: string, path: string, sequence: SequenceName): Promise<CaseInfo> {
    return reassignSequence(this.get(caseId), path, sequence, this.channels);
  }

  async closeCase(caseId: string): Promise<void> {
    this.dropCase(caseId);
  }

  /** Forgets a case: its runs stop, its engine file and upload folder go, its journal is free. */
  private dropCase(caseId: string) {
    const c = this.cases.get(caseId);
    if (!c) return;
    for (const r of [...this.runs.values()]) if (r.caseId === caseId) r.cancel();
    this.cases.delete(caseId);
    c.conn.cases.delete(caseId);
    removeCaseFile(c.caseFile);
    if (c.uploadDir) rmSync(c.uploadDir, { recursive: true, force: true });
    const stillOpen = [...c.conn.cases].flatMap((id) => this.cases.get(id)?.info ?? []);
    this.journals.closed(c.info, c.conn, stillOpen);
  }

  async listRecent(): Promise<RecentEntry[]> {
    return readRecent(this.stateDir);
  }

  async getVolume(caseId: string, sequence: SequenceName | 'label'): Promise<VolumeData> {
    const c = this.get(caseId);
    const v = sequence === 'label' ? c.data.label : c.data.sequences[sequence];
    if (!v) throw new QuorumError('missing-sequence', `the case has no ${sequence}`, c.info.root);
    return toVolumeData(caseId, sequence, v);
  }

  async pickPaths(kind: 'files' | 'folder'): Promise<string[] | null> {
    return this.opts.pickPaths ? this.opts.pickPaths(kind) : null;
  }

  /** Starts the engine in the background so the first proposal does not wait for model loading. */
  warmEngine(): void {
    this.model.warm();
  }

  async propose(
    params: ProposeParams,
    onEvent: (e: ProposalEvent) => void,
    conn: Connection = this.local,
  ): Promise<{ runId: string }> {
    const c = this.get(params.caseId);
    if (this.model.manifestError) throw new QuorumError('model', this.model.manifestError);
    const run = await startProposal(
      c,
      params,
      {
        channels: this.channels,
        manifest: this.model.manifest,
        engine: () => this.model.client(),
        scheduler: this.scheduler,
        owner: conn.id,
        batchImages: this.opts.batchImages,
      },
      onEvent,
    );
    this.runs.set(run.runId, { cancel: run.cancel, caseId: c.info.id, conn });
    conn.runs.add(run.runId);
    void run.finished.finally(() => {
      this.runs.delete(run.runId);
      conn.runs.delete(run.runId);
    });
    // The case closed or the client went while the run was starting: it stops at once.
    if (!this.cases.has(c.info.id) || (conn !== this.local && !this.connections.has(conn))) run.cancel();
    return { runId: run.runId };
  }

  async cancel(runId: string): Promise<void> {
    this.runs.get(runId)?.cancel();
  }

  async export(req: ExportRequest): Promise<ExportResult> {
    const where = { outDir: this.outDir, chooseExportDir: this.opts.chooseExportDir };
    return exportOpenCase(this.get(req.caseId), req, where, this.model.manifest);
  }

  async appendJournal(caseId: string, records: JournalRecord[]): Promise<void> {
    const c = this.get(caseId);
    this.journals.forCase(c.info, c.conn).append(records);
  }

  async readJournal(caseId: string): Promise<JournalRead> {
    const c = this.get(caseId);
    return this.journals.forCase(c.info, c.conn).read();
  }

  async openDataset(folder: string): Promise<Worklist> {
    return this.datasets.openDataset(folder);
  }

  async getWorklist(datasetId: string): Promise<Worklist> {
    return this.datasets.getWorklist(datasetId);
  }

  async setCaseStatus(datasetId: string, caseName: string, status: WorklistStatus): Promise<WorklistCase> {
    return this.datasets.setCaseStatus(datasetId, caseName, status);
  }

  async nextCase(datasetId: string, after?: string): Promise<WorklistCase | null> {
    return this.datasets.nextCase(datasetId, after);
  }

  async prelabel(
    datasetId: string,
    params: PrelabelParams,
    onEvent: (e: DatasetEvent) => void,
    conn: Connection = this.local,
  ): Promise<PrelabelQueue> {
    return this.datasets.prelabel(datasetId, params, onEvent, conn);
  }

  /** Transports call this when the subscriber goes away (the queue itself keeps running). */
  unsubscribePrelabel(datasetId: string, onEvent: (e: DatasetEvent) => void): void {
    this.datasets.unsubscribePrelabel(datasetId, onEvent);
  }

  async pausePrelabel(datasetId: string): Promise<PrelabelQueue> {
    return this.datasets.pausePrelabel(datasetId);
  }

  async loadProposal(caseId: string, proposalDir: string): Promise<SliceResult[]> {
    return loadProposalInto(this.get(caseId), proposalDir);
  }

  // PACS (core/src/api-pacs.ts): the calls go to this.pacs; a store writes the case's DICOM SEG
  // into <stateDir>/pacs-outbox (kept as a record of what was sent) and sends that file (pacs-calls.ts).
  async pacsConfig(): Promise<PacsConfig> {
    return this.pacs.config();
  }
  async pacsSaveNode(node: PacsNode): Promise<PacsConfig> {
    return this.pacs.saveNode(node);
  }
  async pacsRemoveNode(name: string): Promise<PacsConfig> {
    return this.pacs.removeNode(name);
  }
  async pacsEcho(node: string): Promise<{ ms: number }> {
    return this.pacs.echo(node);
  }
  async pacsFind(node: string, query: PacsQuery): Promise<PacsStudy[]> {
    return this.pacs.find(node, query);
  }
  async pacsRetrieve(
    node: string,
    study: string,
    onEvent: (e: PacsEvent) => void,
  ): Promise<{ transferId: string }> {
    return this.pacs.retrieve(node, study, onEvent);
  }
  async pacsStore(req: PacsStoreRequest, onEvent: (e: PacsEvent) => void): Promise<{ transferId: string }> {
    const opts = { stateDir: this.stateDir, export: (r: ExportRequest) => this.export(r) };
    return storeCaseInPacs(this.pacs, () => this.get(req.caseId), req, opts, onEvent);
  }
  async pacsCancel(transferId: string): Promise<void> {
    this.pacs.cancel(transferId);
  }

  private get(caseId: string): OpenCase & { conn: Connection } {
    const c = this.cases.get(caseId);
    if (!c) throw new QuorumError('bad-argument', `no open case with id ${caseId}`);
    return c;
  }

  async close(): Promise<void> {
    for (const conn of [...this.connections]) this.disconnect(conn);
    for (const r of this.runs.values()) r.cancel();
    this.pacs.close();
    for (const id of [...this.cases.keys()]) this.dropCase(id);
    await this.datasets.close();
    await this.model.close();
  }
}

import { randomUUID } from 'node:crypto';
import type { PacsConfig, PacsEvent, PacsNode, PacsQuery, PacsStudy } from '../../../core/src/api-pacs.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { StudyDownload } from './cache.ts';
import { qidoEcho, qidoFind, stowStore, wadoGetStudy } from './dicomweb.ts';
import { type DimseTarget, echo, find, getStudy, storeFiles } from './dimse.ts';
import { moveStudy } from './move.ts';
import { findNode, readPacsConfig, removeNode, saveNode } from './nodes.ts';

/**
 * The PACS side of the host: configured nodes, search, retrieve into the study cache, store;
 * over DICOMweb for a node with a DICOMweb URL (dicomweb.ts), else over DIMSE (dimse.ts).
 * Transport-agnostic like QuorumService (which owns one and forwards the PacsApi calls to it);
 * the CLI uses the same functions. Only nodes from the configuration file are ever contacted.
 */
export class PacsService {
  private readonly transfers = new Map<string, AbortController>();
  /** Studies being retrieved now: two retrieves of one study would write the same folder. */
  private readonly retrieving = new Set<string>();

  constructor(
    readonly stateDir: string,
    private readonly opts: {
      timeoutMs?: number;
      /** A node given on the command line (--aet/--host/--port), besides the configured ones. */
      adHoc?: PacsNode;
      /** Overrides the configured calling AE title. */
      localAet?: string;
    } = {},
  ) {}

  config(): PacsConfig {
    return readPacsConfig(this.stateDir);
  }

  saveNode(node: PacsNode): PacsConfig {
    return saveNode(this.stateDir, node);
  }

  removeNode(name: string): PacsConfig {
    return removeNode(this.stateDir, name);
  }

  target(name: string): DimseTarget {
    if (typeof name !== 'string') throw new QuorumError('bad-argument', 'a PACS node name is needed');
    const c = this.config();
    const node = this.opts.adHoc?.name === name ? this.opts.adHoc : findNode(c, name);
    return { node, localAet: this.opts.localAet ?? c.localAet, timeoutMs: this.opts.timeoutMs };
  }

  async echo(name: string): Promise<{ ms: number }> {
    const t = this.target(name);
    return { ms: Math.round(await (t.node.dicomweb ? qidoEcho(t) : echo(t))) };
  }

  find(name: string, query: PacsQuery): Promise<PacsStudy[]> {
    const t = this.target(name);
    return (t.node.dicomweb ? qidoFind : find)(t, query ?? {});
  }

  /**
   * Starts a C-GET of a study into the cache; events report each image, the final one names the
   * study folder. Returns at once with the id that pacsCancel takes.
   */
  retrieve(name: string, studyInstanceUid: string, onEvent: (e: PacsEvent) => void): { transferId: string } {
    const t = this.target(name);
    if (this.retrieving.has(studyInstanceUid))
      throw new QuorumError('locked', `study ${studyInstanceUid} is being retrieved already`);
    const download = new StudyDownload(this.stateDir, studyInstanceUid);
    this.retrieving.add(studyInstanceUid);
    return this.run(onEvent, async (transferId, signal, emit) => {
      try {
        const get = t.node.dicomweb ? wadoGetStudy : t.node.retrieve === 'c-move' ? moveStudy : getStudy;
        const r = await get(
          t,
          studyInstanceUid,
          (uid, bytes) => download.add(uid, bytes),
          (p) =>
            emit({
              type: 'progress',
              transferId,
              done: p.done,
              failed: p.failed,
              total: p.done + p.failed + p.remaining,
            }),
          signal,
        );
        const folder = download.commit();
        return { type: 'done', transferId, done: r.done, failed: r.failed, folder };
      } catch (e) {
        download.discard();
        throw e;
      } finally {
        this.retrieving.delete(studyInstanceUid);
      }
    });
  }

  /** C-STORE of files (the SEG the host just wrote, or files the CLI names). */
  store(name: string, files: string[], onEvent: (e: PacsEvent) => void): { transferId: string } {
    const t = this.target(name);
    if (!files.length) throw new QuorumError('bad-argument', 'nothing to store');
    return this.run(onEvent, async (transferId, signal, emit) => {
      const r = await (t.node.dicomweb ? stowStore : storeFiles)(
        t,
        files,
        (p) => emit({ type: 'progress', transferId, done: p.done, failed: p.failed, total: files.length }),
        signal,
      );
      return { type: 'done', transferId, done: r.done, failed: r.failed, files };
    });
  }

  cancel(transferId: string): void {
    this.transfers.get(transferId)?.abort();
  }

  /** Cancels every transfer (the host is closing). */
  close(): void {
    for (const c of this.transfers.values()) c.abort();
  }

  private run(
    onEvent: (e: PacsEvent) => void,
    body: (transferId: string, signal: AbortSignal, emit: (e: PacsEvent) => void) => Promise<PacsEvent>,
  ): { transferId: string } {
    const transferId = randomUUID();
    let done = 0;
    const emit = (e: PacsEvent) => {
      if (e.type === 'progress') done = e.done;
      onEvent(e);
    };
    const ctl = new AbortController();
    this.transfers.set(transferId, ctl);
    // Events start after the caller has the id (a stream's reply comes before its events).
    setImmediate(() => {
      body(transferId, ctl.signal, emit)
        .then(onEvent, (e: unknown) => {
          const q = e as QuorumError;
          if (ctl.signal.aborted || q?.code === 'cancelled') onEvent({ type: 'cancelled', transferId, done });
          else onEvent({ type: 'error', transferId, message: q?.message ?? String(e) });
        })
        .finally(() => this.transfers.delete(transferId));
    });
    return { transferId };
  }
}

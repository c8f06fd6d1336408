/**
 * Pre-labelling in the browser-mode host goes through the engine scheduler as one more
 * participant: a colleague's single slice on another connection is served between the
 * pre-labelled case's slice batches, not after the whole case. Real host, real engine (shipped
 * model, CPU), real held-out case (pat0003). Asserts on event order, never on wall time; and the
 * pre-labelled outputs are bit-identical to `quorum propose` on the same case, slices and seed.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DatasetEvent, PrelabelParams, ProposalEvent, QuorumApi } from '../../core/src/api.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import type { CaseReport } from '../../workers/src/case-report.ts';
import { caseFileFolder } from '../../workers/src/host/case-files.ts';
import { quorumWith } from '../helpers/cli.ts';
import { linkDataset, webHostSuite } from '../helpers/dataset.ts';
import { PAT3 } from '../helpers/paths.ts';

const root = mkdtempSync(join(tmpdir(), 'quorum-prelabel-turns-'));
const state = join(root, 'state');
// 10 slices, 2 members, 4 images a batch: the case is cut into 5 batches of 2 slices.
const PRELABEL: PrelabelParams = { slices: [71, 80], members: 2, steps: 3, seed: 5 };
const CASE = {
  flair: join(PAT3, 'Flair_subtrMeanDivStd.nii.gz'),
  t1c: join(PAT3, 'T1c_subtrMeanDivStd.nii.gz'),
};
const readReport = (dir: string): CaseReport => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
const prelabelFiles = () => readdirSync(caseFileFolder()).filter((f) => f.startsWith('prelabel.'));

/** A dataset folder with pat0003 only (a symlink to the real data). */
function onePatient(name: string): string {
  const ds = join(root, name);
  mkdirSync(ds);
  symlinkSync(PAT3, join(ds, 'pat3'));
  return ds;
}

describe('pre-labelling takes turns with interactive proposals (real host and engine)', () => {
  const suite = webHostSuite(state, 4, () => rmSync(root, { recursive: true, force: true }));
  const connect = () => suite.connect();

  it("a colleague's single slice completes before the pre-labelled case does", async () => {
    const ds = onePatient('turns');
    const labeller = await connect();
    const colleague = await connect();
    // The colleague has the case open already; they ask for one slice once pre-labelling is under way.
    const info = await colleague.api.openCase(CASE);
    const w = await labeller.api.openDataset(ds);
    const log: string[] = [];
    let interactive: Promise<ProposalEvent> | undefined;
    const ask = (api: QuorumApi) =>
      new Promise<ProposalEvent>((ok, fail) => {
        api
          .propose(
            { caseId: info.id, slices: 'current', currentSlice: 76, members: 2, steps: 3, seed: 7 },
            (e) => {
              if (e.type === 'slice') log.push(`interactive slice ${e.result.k}`);
              if (
                e.type === 'done' ||
                e.type === 'cancelled' ||
                e.type === 'error' ||
                e.type === 'disconnected'
              ) {
                log.push(`interactive ${e.type}`);
                ok(e);
              }
            },
          )
          .catch(fail);
      });
    const events = await new Promise<DatasetEvent[]>((ok, fail) => {
      const all: DatasetEvent[] = [];
      labeller.api
        .prelabel(w.id, PRELABEL, (e) => {
          all.push(e);
          if (e.type === 'case-progress') {
            log.push(`prelabel ${e.slicesDone}/${e.slicesTotal}`);
            interactive ??= ask(colleague.api);
          }
          if (e.type === 'case-done') log.push(`prelabel done ${e.case.name}`);
          if (e.type === 'queue' && e.state !== 'running') ok(all);
        })
        .catch(fail);
    });
    const final = await interactive!;
    expect(final.type).toBe('done');
    expect(events.at(-1)).toMatchObject({ type: 'queue', state: 'idle', pending: 0 });
    const doneAt = log.indexOf('interactive done');
    const caseDoneAt = log.indexOf('prelabel done pat3');
    console.log(`event order: ${log.filter((l, i) => l !== log[i - 1]).join(', ')}`);
    expect(doneAt).toBeGreaterThan(0);
    expect(caseDoneAt).toBeGreaterThan(doneAt);
    // Served between the case's batches: the case made progress after the single slice was done.
    expect(log.slice(doneAt).some((l) => /^prelabel \d+\/10$/.test(l))).toBe(true);
    // Progress is over the whole case (10 slices), as one request reports it.
    const progress = events.filter((e) => e.type === 'case-progress');
    expect(progress.every((e) => e.type === 'case-progress' && e.slicesTotal === 10)).toBe(true);
    expect(progress.some((e) => e.type === 'case-progress' && e.slicesDone >= 8)).toBe(true);
    // Nothing left behind: no queued batches, the case file released when the case was done.
    await suite.host.service.scheduler.whenIdle();
    expect(suite.host.service.counts().scheduler.queuedBatches).toBe(0);
    expect(prelabelFiles()).toEqual([]);
  });

  it('the pre-labelled case is bit-identical to `quorum propose` with the same slices and seed', () => {
    const prelabelled = join(root, 'turns.quorum', 'proposals', 'pat3');
    const out = join(root, 'cli');
    const r = quorumWith(
      { timeoutMs: 600_000 },
      'propose',
      PAT3,
      '--out',
      out,
      '--slices',
      '71:80',
      '--members',
      '2',
      '--steps',
      '3',
      '--seed',
      '5',
      '--device',
      'cpu',
    );
    expect(r.code, r.stderr).toBe(0);
    return (async () => {
      for (const f of ['mask.nii.gz', 'uncertainty.nii.gz']) {
        const [a, b] = await Promise.all([loadVolume(join(prelabelled, f)), loadVolume(join(out, f))]);
        expect(a.dims).toEqual(b.dims);
        const bytes = (v: typeof a) => Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength);
        expect(bytes(a).equals(bytes(b)), f).toBe(true);
      }
      const [a, b] = [readReport(prelabelled), readReport(out)];
      expect(a.slices).toEqual(b.slices);
      expect(a.slices.map((s) => s.k)).toEqual([71, 72, 73, 74, 75, 76, 77, 78, 79, 80]);
      expect(a.skippedSlices).toEqual(b.skippedSlices);
      expect(a.confidence).toBe(b.confidence);
      expect(a.lesionVolumeMl).toBe(b.lesionVolumeMl);
      expect(a.uncertaintyMm3).toBe(b.uncertaintyMm3);
      expect(a.settings).toEqual(b.settings);
      expect(a.outputs).toEqual(b.outputs);
    })();
  });

  it('pause mid-case drops its queued batches and releases its case file', async () => {
    const ds = linkDataset(join(root, 'paused'), false);
    const { api } = await connect();
    const w = await api.openDataset(ds);
    const before = suite.host.service.counts().scheduler;
    const events = await new Promise<DatasetEvent[]>((ok, fail) => {
      const all: DatasetEvent[] = [];
      let pausing = false;
      api
        .prelabel(w.id, PRELABEL, (e) => {
          all.push(e);
          if (e.type === 'case-progress' && !pausing) {
            pausing = true;
            void api.pausePrelabel(w.id);
          }
          if (e.type === 'queue' && e.state !== 'running') ok(all);
        })
        .catch(fail);
    });
    expect(events.at(-1)).toMatchObject({ type: 'queue', state: 'paused', pending: 2 });
    expect(events.some((e) => e.type === 'case-done')).toBe(false);
    expect(existsSync(join(root, 'paused.quorum', 'proposals', 'pat3', 'report.json'))).toBe(false);
    await suite.host.service.scheduler.whenIdle();
    const after = suite.host.service.counts().scheduler;
    expect(after.queuedBatches).toBe(0);
    expect(after.runs).toBe(0);
    // Paused in its first batch(es): the rest of pat3's 5 never reached the engine.
    const sent = after.batchesSent - before.batchesSent;
    const dropped = after.batchesDropped - before.batchesDropped;
    expect(sent + dropped).toBe(5);
    expect(dropped).toBeGreaterThanOrEqual(3);
    expect(prelabelFiles()).toEqual([]);
    expect((await api.getWorklist(w.id)).cases.map((c) => c.status)).toEqual(['new', 'new']);
  });
});

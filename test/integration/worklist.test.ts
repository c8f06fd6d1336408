import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { DatasetEvent, PrelabelParams, QuorumApi } from '../../core/src/api.ts';
import { lowConfidenceThreshold } from '../../core/src/metrics.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import type { CaseReport } from '../../workers/src/case-report.ts';
import { DEFAULT_MODEL_DIR } from '../../workers/src/host/paths.ts';
import { QuorumService } from '../../workers/src/host/service.ts';
import { startWebHost, type WebHost } from '../../workers/src/host/web.ts';
import { connectApi, linkDataset, modelWithThreshold } from '../helpers/dataset.ts';

const root = mkdtempSync(join(tmpdir(), 'quorum-worklist-'));
const state = join(root, 'state');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const FAST: PrelabelParams = { slices: [75, 76], members: 2, steps: 2, seed: 1 };

const dataset = (name: string, broken: boolean) => linkDataset(join(root, name), broken);
const readReport = (dir: string): CaseReport => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
/** The shipped model's low-confidence threshold (its manifest's, else the default 0.8). */
const shippedThreshold = () =>
  lowConfidenceThreshold(JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, 'manifest.json'), 'utf8')));
const connect = (host: WebHost) => connectApi(host);

/** Runs prelabel until the stream's final 'queue' event; resolves with every event. */
function prelabelToEnd(api: QuorumApi, id: string, params: PrelabelParams): Promise<DatasetEvent[]> {
  return new Promise((ok, fail) => {
    const events: DatasetEvent[] = [];
    api
      .prelabel(id, params, (e) => {
        events.push(e);
        if (e.type === 'queue' && e.state !== 'running') ok(events);
      })
      .catch(fail);
  });
}

describe('dataset worklist over the browser-mode API', () => {
  const ds = dataset('study', true);
  let host: WebHost;
  let api: QuorumApi;
  let ws: WebSocket;
  afterAll(async () => {
    ws?.close();
    await host?.close();
  });

  it('opens a folder as a worklist with a project file next to it, pre-labels in the background, reports the broken case and sorts by confidence', async () => {
    host = await startWebHost({ port: 0, stateDir: state, outDir: state, rendererDir: root });
    ({ api, ws } = await connect(host));
    const w0 = await api.openDataset(ds);
    expect(w0.projectFile).toBe(join(root, 'study.quorum', 'project.json'));
    expect(existsSync(w0.projectFile)).toBe(true);
    expect(readdirSync(ds).sort()).toEqual(['broken', 'pat3', 'pat4']); // nothing written inside
    expect(w0.cases.map((c) => [c.name, c.status])).toEqual([
      ['broken', 'new'],
      ['pat3', 'new'],
      ['pat4', 'new'],
    ]);
    expect(w0.queue).toMatchObject({ state: 'idle', pending: 3 });

    const t0 = performance.now();
    const events = await prelabelToEnd(api, w0.id, FAST);
    const seconds = (performance.now() - t0) / 1000;
    expect(events[0]).toMatchObject({ type: 'queue', state: 'running', pending: 3 });
    expect(events.at(-1)).toMatchObject({ type: 'queue', state: 'idle', pending: 0 });
    const started = events.filter((e) => e.type === 'case-started').map((e) => e.case);
    expect(started).toEqual(['broken', 'pat3', 'pat4']); // one at a time, in name order
    for (const name of ['pat3', 'pat4'])
      expect(events.some((e) => e.type === 'case-progress' && e.case === name && e.slicesTotal === 2)).toBe(
        true,
      );
    const err = events.find((e) => e.type === 'case-error');
    expect(err?.type === 'case-error' && err.case.error).toMatch(/flair\.nii\.gz: file is truncated/);
    expect(events.filter((e) => e.type === 'case-done').length).toBe(2);
    console.log(`pre-labelled 2 cases (+1 broken) in ${seconds.toFixed(1)} s`);

    const w1 = await api.getWorklist(w0.id);
    const [first, second, last] = w1.cases;
    // lowest confidence first (as report.json says); the case without a proposal last
    const conf = (c: typeof first) => readReport(c.proposalDir!).confidence!;
    expect(conf(first)).toBeLessThanOrEqual(conf(second));
    if (conf(first) === conf(second))
      expect(first.uncertaintyMl!).toBeGreaterThanOrEqual(second.uncertaintyMl!);
    expect(last).toMatchObject({ name: 'broken', status: 'new' });
    expect(last.uncertaintyMl).toBeUndefined();
    expect(last.confidence).toBeUndefined();
    expect(last.lowConfidence).toBeUndefined();
    expect(last.error).toMatch(/truncated/);
    for (const c of [first, second]) {
      expect(c.status).toBe('proposed');
      expect(c.lesionVolumeMl!).toBeGreaterThan(0.5);
      const report = readReport(c.proposalDir!);
      expect(report.settings).toMatchObject({ members: 2, steps: 2, seed: 1, slices: [75, 76] });
      expect(c.uncertaintyMl).toBeCloseTo(report.uncertaintyMm3 / 1000, 9);
      // the case confidence: a 0-1 agreement, flagged against the model's threshold
      expect(report.confidence).toBeGreaterThanOrEqual(0);
      expect(report.confidence).toBeLessThanOrEqual(1);
      // both subjects have tumour on these slices: members agree on something (not the empty-case 1)
      expect(report.confidence).toBeGreaterThan(0);
      expect(report.confidenceLowBelow).toBe(shippedThreshold());
      expect(report.lowConfidence).toBe(report.confidence! < report.confidenceLowBelow!);
      expect(report.uncertainMl).toBeCloseTo(report.uncertaintyMm3 / 1000, 12);
      expect(c.confidence).toBe(report.confidence);
      expect(c.lowConfidence).toBe(report.lowConfidence);
      const mask = await loadVolume(join(c.proposalDir!, 'mask.nii.gz'));
      expect(mask.dims).toEqual([240, 240, 155]);
    }
    expect(w1.queue.state).toBe('idle');
    // persisted
    const saved = JSON.parse(readFileSync(w1.projectFile, 'utf8'));
    expect(saved.cases.find((c: { name: string }) => c.name === first.name).status).toBe('proposed');
  });

  it('nextCase follows the confidence order; status changes are saved and review time is counted', async () => {
    const w = await api.getWorklist(ds);
    const order = w.cases.map((c) => c.name);
    expect((await api.nextCase(w.id))?.name).toBe(order[0]);
    await api.setCaseStatus(w.id, order[0], 'in-review');
    await new Promise((r) => setTimeout(r, 1100));
    const reviewed = await api.setCaseStatus(w.id, order[0], 'done');
    expect(reviewed.secondsSpent).toBeGreaterThanOrEqual(1);
    expect(reviewed.secondsSpent).toBeLessThan(5);
    expect((await api.nextCase(w.id))?.name).toBe(order[1]);
    expect((await api.nextCase(w.id, order[1]))?.name).toBe(order[2]);
    expect((await api.nextCase(w.id, order[2]))?.name).toBe(order[1]); // wraps, skips done
    // Opening another case without "Done" stops the first one's clock; it stays in review.
    await api.setCaseStatus(w.id, order[1], 'in-review');
    await new Promise((r) => setTimeout(r, 300));
    await api.setCaseStatus(w.id, order[2], 'in-review');
    await new Promise((r) => setTimeout(r, 1100));
    const left = (await api.getWorklist(w.id)).cases.find((c) => c.name === order[1])!;
    expect(left.status).toBe('in-review');
    expect(left.secondsSpent).toBeLessThan(1);
    await api.setCaseStatus(w.id, order[1], 'done');
    await api.setCaseStatus(w.id, order[2], 'done');
    expect(await api.nextCase(w.id)).toBeNull();
    await expect(api.setCaseStatus(w.id, 'nope', 'done')).rejects.toMatchObject({ code: 'bad-argument' });
    const saved = JSON.parse(readFileSync(w.projectFile, 'utf8'));
    expect(saved.cases.map((c: { status: string }) => c.status)).toEqual(['done', 'done', 'done']);
    expect(
      saved.cases.find((c: { name: string }) => c.name === order[0]).secondsSpent,
    ).toBeGreaterThanOrEqual(1);
  });
});

describe('pre-labelling queue: pause, resume, restart', () => {
  it('pauses mid-case (the case is redone on resume) and resumes after a host restart from the project file', async () => {
    const ds = dataset('restart', false);
    // pat3 was already proposed elsewhere (e.g. `quorum propose-dataset --out restart.quorum/proposals`)
    const from = join(root, 'study.quorum', 'proposals', 'pat3');
    mkdirSync(join(root, 'restart.quorum', 'proposals'), { recursive: true });
    cpSync(from, join(root, 'restart.quorum', 'proposals', 'pat3'), { recursive: true });

    let s = new QuorumService({ mode: 'browser', stateDir: state, outDir: state });
    const w0 = await s.openDataset(ds);
    expect(w0.cases.map((c) => `${c.name}:${c.status}`)).toEqual(['pat3:proposed', 'pat4:new']);
    expect(w0.queue.pending).toBe(1);

    // start, and pause as soon as pat4 is under way (after its first of 5 steps: mid-case)
    const SLOWER: PrelabelParams = { ...FAST, steps: 5 };
    const paused = new Promise<DatasetEvent[]>((ok) => {
      const events: DatasetEvent[] = [];
      void s.prelabel(w0.id, SLOWER, (e) => {
        events.push(e);
        if (e.type === 'case-progress') void s.pausePrelabel(w0.id);
        if (e.type === 'queue' && e.state !== 'running') ok(events);
      });
    });
    const ev = await paused;
    expect(ev.at(-1)).toMatchObject({ type: 'queue', state: 'paused', pending: 1 });
    expect(ev.some((e) => e.type === 'case-done')).toBe(false);
    expect(existsSync(join(root, 'restart.quorum', 'proposals', 'pat4', 'report.json'))).toBe(false);
    expect((await s.getWorklist(w0.id)).cases.find((c) => c.name === 'pat4')?.status).toBe('new');
    await s.close();

    // a new host: paused stays paused
    s = new QuorumService({ mode: 'browser', stateDir: state, outDir: state });
    const w1 = await s.openDataset(ds);
    expect(w1.queue).toMatchObject({ state: 'paused', pending: 1, params: SLOWER });
    // resume, then stop the host while it runs: the saved state is 'running'
    const running = new Promise<void>((ok) => {
      void s.prelabel(w1.id, {}, (e) => e.type === 'case-progress' && ok());
    });
    await running;
    await s.close();
    expect(JSON.parse(readFileSync(w1.projectFile, 'utf8')).queue.state).toBe('running');

    // the next host resumes it by itself on open; prelabel only subscribes
    s = new QuorumService({ mode: 'browser', stateDir: state, outDir: state });
    const w2 = await s.openDataset(ds);
    expect(w2.queue.state).toBe('running');
    const end = await new Promise<DatasetEvent[]>((ok) => {
      const events: DatasetEvent[] = [];
      void s.prelabel(w2.id, {}, (e) => {
        events.push(e);
        if (e.type === 'queue' && e.state !== 'running') ok(events);
      });
    });
    expect(end.at(-1)).toMatchObject({ type: 'queue', state: 'idle', pending: 0 });
    const w3 = await s.getWorklist(w2.id);
    expect(w3.cases.every((c) => c.status === 'proposed')).toBe(true);
    const report = JSON.parse(
      readFileSync(join(root, 'restart.quorum', 'proposals', 'pat4', 'report.json'), 'utf8'),
    );
    expect(report.settings).toMatchObject({ members: 2, steps: 5, seed: 1, slices: [75, 76] });
    await s.close();
  });
});

describe('case confidence: the model threshold, and reports written before it', () => {
  const study = (name: string) => join(root, 'study.quorum', 'proposals', name);
  /** The study's two proposed cases, lowest confidence first (from their report.json). */
  const ranked = () =>
    ['pat3', 'pat4'].sort((a, b) => readReport(study(a)).confidence! - readReport(study(b)).confidence!);

  it('a report without confidence loads as unknown, after the known ones and before unproposed cases', async () => {
    const ds = dataset('legacy', true);
    const [low, high] = ranked();
    mkdirSync(join(root, 'legacy.quorum', 'proposals'), { recursive: true });
    for (const name of [low, high])
      cpSync(study(name), join(root, 'legacy.quorum', 'proposals', name), { recursive: true });
    // The lowest-confidence case's report as written before the confidence existed.
    const file = join(root, 'legacy.quorum', 'proposals', low, 'report.json');
    const {
      confidence: _c,
      lowConfidence: _l,
      confidenceLowBelow: _t,
      uncertainMl: _u,
      ...old
    } = readReport(join(root, 'legacy.quorum', 'proposals', low));
    writeFileSync(file, JSON.stringify(old));
    const s = new QuorumService({ mode: 'browser', stateDir: state, outDir: state });
    const w = await s.openDataset(ds);
    expect(w.cases.map((c) => `${c.name}:${c.status}`)).toEqual([
      `${high}:proposed`,
      `${low}:proposed`,
      'broken:new',
    ]);
    const [known, unknown] = w.cases;
    expect(known.confidence).toBe(readReport(study(high)).confidence);
    expect(unknown.confidence).toBeUndefined();
    expect(unknown.lowConfidence).toBeUndefined();
    expect(unknown.uncertaintyMl).toBeCloseTo(old.uncertaintyMm3 / 1000, 12);
    expect((await s.nextCase(w.id))?.name).toBe(high);
    await s.close();
  });

  it("lowConfidence follows the model manifest's caseConfidence.lowBelow", async () => {
    const [low, high] = ranked();
    const [cLow, cHigh] = [low, high].map((n) => readReport(study(n)).confidence!);
    // A threshold between the two cases' confidences: the same proposals again (same seed and
    // settings) must flag exactly the lower one.
    const lowBelow = (cLow + cHigh) / 2;
    const modelDir = modelWithThreshold(join(root, 'strict-model'), lowBelow);
    const ds = dataset('strict', false);
    const s = new QuorumService({ mode: 'browser', stateDir: state, outDir: state, modelDir });
    const w0 = await s.openDataset(ds);
    const events = await prelabelToEnd(s, w0.id, FAST);
    expect(events.filter((e) => e.type === 'case-done').length).toBe(2);
    const w = await s.getWorklist(w0.id);
    expect(w.cases.map((c) => c.name)).toEqual([low, high]);
    for (const [c, want] of [
      [w.cases[0], cLow],
      [w.cases[1], cHigh],
    ] as const) {
      const r = readReport(c.proposalDir!);
      expect(r.confidenceLowBelow).toBe(lowBelow);
      expect(r.confidence).toBeCloseTo(want, 4);
      expect(r.lowConfidence).toBe(r.confidence! < lowBelow);
      expect(c.lowConfidence).toBe(r.lowConfidence);
    }
    console.log(
      `confidence ${low} ${cLow.toFixed(4)}, ${high} ${cHigh.toFixed(4)}; threshold ${lowBelow.toFixed(4)}`,
    );
    expect(w.cases.map((c) => c.lowConfidence)).toEqual([true, false]);
    await s.close();
  });
});

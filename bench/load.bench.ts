/**
 * The browser-mode host under load (issue 14, "Under load"), on the real host, engine and shipped
 * model with the held-out pat0003 and the recommended members/steps:
 *
 * - one slice asked by a second tab while a first tab's whole-volume run is active, against the
 *   same slice on an idle host (goal <= 2x: the host cuts runs into slice batches and takes
 *   turns between tabs);
 * - cancel of a whole-volume run with queued batches: seconds from the cancel until the engine
 *   has stopped (its batch in flight answered 'cancelled' and nothing else of the run is sent);
 * - host RSS before and after 20 connect / open / propose one slice / close cycles (goal flat);
 * - engine RSS across those runs (bounded case cache, nothing kept per run).
 */
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ProposalEvent, ProposeParams, QuorumApi } from '../core/src/api.ts';
import { connectApi } from '../test/helpers/dataset.ts';
import { scratchDir } from '../workers/src/host/service.ts';
import { startWebHost } from '../workers/src/host/web.ts';
import type { BenchRow } from './types.ts';

export const title = 'host under load (4 tabs, one engine, pat0003)';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const PAT3 = join(REPO, '..', 'shared', 'data', 'brats2015-deepmedic', 'validation', 'brats_2013_pat0003_1');
const CASE = {
  flair: join(PAT3, 'Flair_subtrMeanDivStd.nii.gz'),
  t1c: join(PAT3, 'T1c_subtrMeanDivStd.nii.gz'),
};
const CYCLES = 20;
const MiB = 1024 * 1024;
const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];

function propose(api: QuorumApi, params: ProposeParams, onEvent: (e: ProposalEvent) => void = () => {}) {
  let runId = '';
  const ended = new Promise<ProposalEvent>((resolve, reject) => {
    api
      .propose(params, (e) => {
        onEvent(e);
        if (e.type === 'done' || e.type === 'cancelled' || e.type === 'error' || e.type === 'disconnected')
          resolve(e);
      })
      .then((r) => {
        runId = r.runId;
      }, reject);
  });
  return { ended, runId: () => runId };
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** The host's RSS after a full collection (the host runs in this process). */
const rss = () => {
  gc();
  return process.memoryUsage().rss / MiB;
};

export async function run(): Promise<BenchRow[]> {
  const g = 'load';
  const rows: BenchRow[] = [];
  const state = scratchDir('quorum-bench-load');
  const host = await startWebHost({ port: 0, stateDir: state, outDir: state, device: 'cpu' });
  try {
    const a = await connectApi(host);
    const b = await connectApi(host);
    const [caseA, caseB] = await Promise.all([a.api.openCase(CASE), b.api.openCase(CASE)]);
    const slice = (k: number, seed: number): ProposeParams => ({
      caseId: caseB.id,
      slices: 'current',
      currentSlice: k,
      seed,
    });
    const timed = async (p: ProposeParams) => {
      const t = performance.now();
      const e = await propose(b.api, p).ended;
      if (e.type !== 'done') throw new Error(`single slice ended with ${e.type}`);
      return (performance.now() - t) / 1000;
    };
    host.service.warmEngine();
    for (let n = 0; n < 600 && !(await host.service.engineStats().catch(() => undefined)); n++)
      await new Promise((r) => setTimeout(r, 50));
    const engineStart = (await host.service.engineStats())?.rssBytes ?? Number.NaN;
    await timed(slice(60, 0)); // warm-up: case files read
    const idle: number[] = [];
    for (const k of [70, 80, 90]) idle.push(await timed(slice(k, 1)));

    // A whole-volume run in tab A; once it streams, tab B asks for single slices.
    let firstSlice!: () => void;
    const streaming = new Promise<void>((r) => {
      firstSlice = r;
    });
    let onA: (e: ProposalEvent) => void = () => {};
    const whole = propose(a.api, { caseId: caseA.id, slices: 'all', seed: 2 }, (e) => {
      if (e.type === 'slice') firstSlice();
      onA(e);
    });
    await streaming;
    // A alone for a while: its throughput cut into batches (engine.bench.ts has it uncut).
    let aSlices = 0;
    const aStart = performance.now();
    const counting = (e: ProposalEvent) => {
      if (e.type === 'slice') aSlices++;
    };
    onA = counting;
    await new Promise((r) => setTimeout(r, 10000));
    onA = () => {};
    rows.push({
      group: g,
      name: 'whole volume alone, cut in batches',
      value: (performance.now() - aStart) / 1000 / Math.max(1, aSlices),
      unit: 's/slice',
      note: `${aSlices} slices in 10 s`,
    });
    const busy: number[] = [];
    for (const [i, k] of [70, 80, 90, 100, 110].entries()) {
      // land at different points of A's batches
      await new Promise((r) => setTimeout(r, [0, 400, 1300, 700, 2100][i]));
      busy.push(await timed(slice(k, 1)));
    }
    rows.push(
      {
        group: g,
        name: 'one slice, idle host',
        value: median(idle),
        unit: 's',
        note: `median of ${idle.length}`,
      },
      {
        group: g,
        name: 'one slice, whole-volume run active',
        value: median(busy),
        unit: 's',
        note: `median of ${busy.length}; each: ${busy.map((x) => x.toFixed(1)).join(', ')}`,
      },
      {
        group: g,
        name: 'one slice: active / idle',
        value: median(busy) / median(idle),
        unit: 'x',
        goal: '<= 2x',
      },
    );

    // Cancel of the whole-volume run (queued batches and one in the engine), then twice more at
    // other points of a batch.
    const sched = host.service.scheduler;
    const before = sched.state;
    const cancelOnce = async (run: typeof whole) => {
      const t0 = performance.now();
      await a.api.cancel(run.runId());
      const ev = await run.ended;
      const answered = (performance.now() - t0) / 1000;
      await sched.whenIdle();
      return { answered, stopped: (performance.now() - t0) / 1000, type: ev.type };
    };
    const trials = [await cancelOnce(whole)];
    for (const delay of [450, 1250]) {
      let started!: () => void;
      const streamingAgain = new Promise<void>((r) => {
        started = r;
      });
      const again = propose(a.api, { caseId: caseA.id, slices: 'all', seed: 3 }, (e) => {
        if (e.type === 'slice') started();
      });
      await streamingAgain;
      await new Promise((r) => setTimeout(r, delay));
      trials.push(await cancelOnce(again));
    }
    const after = sched.state;
    rows.push(
      {
        group: g,
        name: "cancel -> 'cancelled' event",
        value: Math.max(...trials.map((t) => t.answered)),
        unit: 's',
        note: `max of ${trials.length}: ${trials.map((t) => t.type).join(', ')}`,
      },
      {
        group: g,
        name: 'cancel -> engine stopped (queued work)',
        value: Math.max(...trials.map((t) => t.stopped)),
        unit: 's',
        goal: '<= 2 s',
        note: `max of ${trials.length} (${trials.map((t) => t.stopped.toFixed(2)).join(', ')}); batches dropped in the host: ${after.batchesDropped - before.batchesDropped}, stopped in the engine: ${after.batchesCancelledInEngine - before.batchesCancelledInEngine}`,
      },
    );
    a.ws.close();
    b.ws.close();

    // Connect / open / propose one slice / close, as a tab that comes and goes.
    const cycle = async (i: number) => {
      const c = await connectApi(host);
      const info = await c.api.openCase(CASE);
      await c.api.getVolume(info.id, 'flair');
      await propose(c.api, {
        caseId: info.id,
        slices: 'current',
        currentSlice: 75,
        members: 1,
        steps: 1,
        seed: i,
      }).ended;
      c.ws.close();
      for (let n = 0; n < 200 && host.service.counts().connections > 0; n++)
        await new Promise((r) => setTimeout(r, 10));
    };
    // RSS after each cycle (full GC first): the median of the first 3 and of the last 3 cycles,
    // since freed voxel buffers go back to the OS in their own time.
    const samples: number[] = [];
    const heap: number[] = [];
    let engineBefore = Number.NaN;
    for (let i = 1; i <= CYCLES; i++) {
      await cycle(i);
      samples.push(rss());
      heap.push(process.memoryUsage().heapUsed / MiB);
      if (i === 1) engineBefore = (await host.service.engineStats())?.rssBytes ?? Number.NaN;
    }
    const hostBefore = median(samples.slice(0, 3));
    const hostAfter = median(samples.slice(-3));
    const engineAfter = (await host.service.engineStats())?.rssBytes ?? Number.NaN;
    const counts = host.service.counts();
    rows.push(
      { group: g, name: `host RSS, first 3 of ${CYCLES} tab cycles`, value: hostBefore, unit: 'MiB' },
      {
        group: g,
        name: `host RSS, last 3 of ${CYCLES} tab cycles`,
        value: hostAfter,
        unit: 'MiB',
        goal: 'flat',
        note: `JS heap ${heap[0].toFixed(0)} -> ${heap[heap.length - 1].toFixed(0)} MiB; cases still open: ${counts.cases}, runs: ${counts.runs}, case files: ${counts.caseFiles}`,
      },
      { group: g, name: 'engine RSS, model loaded', value: engineStart / MiB, unit: 'MiB' },
      { group: g, name: 'engine RSS after the runs above + 1 cycle', value: engineBefore / MiB, unit: 'MiB' },
      {
        group: g,
        name: `engine RSS after ${CYCLES} cycles (new case each)`,
        value: engineAfter / MiB,
        unit: 'MiB',
        goal: 'bounded',
        note: `cases cached: ${(await host.service.engineStats())?.cachedCases}`,
      },
    );
  } finally {
    await host.close();
    rmSync(state, { recursive: true, force: true });
  }
  return rows;
}

/**
 * The browser-mode host under load, on the real host, the real engine (onnxruntime-node, the
 * shipped model) and a real held-out case: several WebSocket clients at once, cancels with
 * queued work, tabs that go away, two people on one case. Asserts on events and host state
 * (QuorumService.counts), never on wall time: speed goes to bench/load.bench.ts.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CaseInfo, ProposalEvent, ProposeParams, QuorumApi, SliceResult } from '../../core/src/api.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import type { WireError } from '../../core/src/rpc/errors.ts';
import { EngineClient } from '../../workers/src/client.ts';
import { caseFileFolder } from '../../workers/src/host/case-files.ts';
import { scratchDir } from '../../workers/src/host/service.ts';
import type { ChannelVolume } from '../../workers/src/protocol.ts';
import { webHostSuite } from '../helpers/dataset.ts';
import { PAT3 } from '../helpers/paths.ts';

const FLAIR = join(PAT3, 'Flair_subtrMeanDivStd.nii.gz');
const T1C = join(PAT3, 'T1c_subtrMeanDivStd.nii.gz');
const CASE = { flair: FLAIR, t1c: T1C };

type Final = Extract<ProposalEvent, { type: 'done' | 'cancelled' | 'error' | 'disconnected' }>;

interface Outcome {
  events: ProposalEvent[];
  results: Map<number, SliceResult>;
  final: Final;
}

/** One proposal through a socket API, to its final event; `onEvent` sees every event first. */
function propose(
  api: QuorumApi,
  params: ProposeParams,
  onEvent: (e: ProposalEvent) => void = () => {},
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const events: ProposalEvent[] = [];
    const results = new Map<number, SliceResult>();
    api
      .propose(params, (e) => {
        events.push(e);
        onEvent(e);
        if (e.type === 'slice') results.set(e.result.k, { ...e.result, mean: e.result.mean.slice() });
        if (e.type === 'done' || e.type === 'cancelled' || e.type === 'error' || e.type === 'disconnected')
          resolve({ events, results, final: e as Final });
      })
      .catch(reject);
  });
}

/** Waits for a host-side condition (the host releases on socket close, a moment after it). */
async function until(cond: () => boolean, what: string) {
  for (let i = 0; i < 600 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!cond()) throw new Error(`never: ${what}`);
}

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => v === b[i]);

describe('browser-mode host under load (real engine, shipped model, held-out pat0003)', () => {
  const state = scratchDir('quorum-load-state');
  // 4 images a batch: with 2 members, runs are cut into batches of 2 slices.
  const suite = webHostSuite(state, 4, () => rmSync(state, { recursive: true, force: true }));
  const connect = () => suite.connect();

  it('serves 4 clients at once, interleaved, each with exactly the masks of its request alone', async () => {
    const clients = await Promise.all([0, 1, 2, 3].map(() => connect()));
    const cases: CaseInfo[] = await Promise.all(clients.map((c) => c.api.openCase(CASE)));
    // Client 0 asks for 6 slices (3 batches); the others for one or two slices each, all at once.
    const params: ProposeParams[] = [
      { caseId: cases[0].id, slices: [70, 75], members: 2, steps: 2, seed: 11 },
      { caseId: cases[1].id, slices: 'current', currentSlice: 80, members: 2, steps: 2, seed: 12 },
      { caseId: cases[2].id, slices: [84, 85], members: 2, steps: 2, seed: 13 },
      { caseId: cases[3].id, slices: 'current', currentSlice: 90, members: 2, steps: 2, seed: 14 },
    ];
    const order: string[] = [];
    const outcomes = await Promise.all(
      clients.map((c, i) =>
        propose(c.api, params[i], (e) => {
          if (e.type === 'slice') order.push(`${i}:${e.result.k}`);
        }),
      ),
    );
    for (const o of outcomes) expect(o.final.type).toBe('done');
    expect([...outcomes[0].results.keys()]).toEqual([70, 71, 72, 73, 74, 75]);
    expect([...outcomes[1].results.keys()]).toEqual([80]);
    expect([...outcomes[2].results.keys()]).toEqual([84, 85]);
    expect([...outcomes[3].results.keys()]).toEqual([90]);
    // Round robin: the single slices came before the 6-slice run's last batch.
    expect(order.indexOf('1:80')).toBeLessThan(order.indexOf('0:75'));
    expect(order.indexOf('3:90')).toBeLessThan(order.indexOf('0:75'));

    // Each equals the same request alone, unshared and uncut: today's engine path with inline volumes.
    const [flair, t1c] = await Promise.all([loadVolume(FLAIR), loadVolume(T1C)]);
    const ch = (v: typeof flair): ChannelVolume => ({ ...v, data: v.data as Float32Array });
    const alone = await EngineClient.start({ device: 'cpu' });
    try {
      for (const [i, p] of params.entries()) {
        const range: [number, number] =
          p.slices === 'current' ? [p.currentSlice!, p.currentSlice!] : (p.slices as [number, number]);
        const ref = new Map<number, Float32Array>();
        await alone.propose(
          {
            caseName: 'pat0003',
            volumes: { flair: ch(flair), t1c: ch(t1c) },
            slices: range,
            members: 2,
            steps: 2,
            seed: p.seed,
          },
          (e) => e.type === 'slice' && ref.set(e.result.k, e.result.mean.slice()),
        ).result;
        expect([...ref.keys()]).toEqual([...outcomes[i].results.keys()]);
        for (const [k, mean] of ref)
          expect(same(outcomes[i].results.get(k)!.mean, mean), `client ${i} k ${k}`).toBe(true);
      }
    } finally {
      await alone.close();
    }
    for (const c of clients) c.ws.close();
    await until(() => suite.host.service.counts().cases === 0, 'cases released');
  });

  it('cancel with queued work: queued batches never reach the engine, the running one stops', async () => {
    const { api, ws } = await connect();
    const info = await api.openCase(CASE);
    const before = suite.host.service.counts().scheduler;
    let cancelled = false;
    // 8 slices = 4 batches; cancelled at the first step of the first batch.
    const o = await propose(
      api,
      { caseId: info.id, slices: [70, 77], members: 2, steps: 6, seed: 3 },
      (e) => {
        if (e.type === 'progress' && !cancelled) {
          cancelled = true;
          void api.cancel(e.runId);
        }
      },
    );
    expect(o.final.type).toBe('cancelled');
    expect(o.results.size).toBe(0);
    await suite.host.service.scheduler.whenIdle();
    await until(() => suite.host.service.counts().runs === 0, 'run forgotten');
    const after = suite.host.service.counts();
    expect(after.scheduler.busy).toBe(false);
    expect(after.scheduler.queuedBatches).toBe(0);
    expect(after.scheduler.batchesSent - before.batchesSent).toBe(1);
    expect(after.scheduler.batchesDropped - before.batchesDropped).toBe(3);
    // The engine answered 'cancelled' for the batch in flight: it stopped mid-batch (between steps).
    expect(after.scheduler.batchesCancelledInEngine - before.batchesCancelledInEngine).toBe(1);
    ws.close();
    await until(() => suite.host.service.counts().connections === 0, 'connection released');
  });

  it("a closed tab's runs end with 'disconnected' and all it opened is released", async () => {
    const base = suite.host.service.counts();
    const { api, ws } = await connect();
    const info = await api.openCase(CASE);
    await api.appendJournal(info.id, [{ op: { type: 'reset', at: new Date().toISOString() } }]);
    // A run of 3 batches on the case, and a second one queued behind it.
    let closed = false;
    const modes: number[] = [];
    const first = propose(api, { caseId: info.id, slices: [70, 75], members: 2, steps: 2, seed: 1 }, (e) => {
      if (e.type === 'slice' && !closed) {
        closed = true;
        // The case's private file for the engine, while the run is on: 0600 in a 0700 folder.
        const dir = caseFileFolder();
        modes.push(statSync(dir).mode & 0o777);
        for (const f of readdirSync(dir)) modes.push(statSync(join(dir, f)).mode & 0o777);
        ws.close();
      }
    });
    const second = propose(api, { caseId: info.id, slices: [80, 83], members: 2, steps: 2, seed: 2 });
    const [a, b] = await Promise.all([first, second]);
    expect(modes).toEqual([0o700, 0o600]);
    expect(a.final.type).toBe('disconnected');
    expect(b.final.type).toBe('disconnected');
    await until(() => suite.host.service.counts().connections === base.connections, 'connection released');
    await until(() => suite.host.service.counts().runs === 0, 'runs forgotten');
    const now = suite.host.service.counts();
    expect(now.cases).toBe(base.cases);
    expect(now.runs).toBe(0);
    expect(now.caseFiles).toBe(0);
    expect(now.journalLocks).toBe(0);
    expect(now.scheduler.queuedBatches).toBe(0);
    expect(readdirSync(caseFileFolder())).toEqual([]);
    await suite.host.service.scheduler.whenIdle();
  });

  it('two people on one case: the second is refused, naming the holder, and never mixes journals', async () => {
    const alice = await connect();
    const bob = await connect();
    const a = await alice.api.openCase(CASE);
    const b = await bob.api.openCase(CASE);
    const rec = (n: number) => ({ op: { type: 'reset', at: `2026-01-01T00:00:0${n}Z` } });
    const start = (await alice.api.readJournal(a.id)).records.length;
    await alice.api.appendJournal(a.id, [rec(1)]);
    const refused = await bob.api.appendJournal(b.id, [rec(2)]).then(
      () => undefined,
      (e: WireError) => e,
    );
    expect(refused?.code).toBe('locked');
    expect(refused?.message).toMatch(
      /open for editing in another Quorum tab or window \(browser tab from .*connected at/,
    );
    await expect(bob.api.readJournal(b.id)).rejects.toMatchObject({ code: 'locked' });
    await alice.api.appendJournal(a.id, [rec(3)]);
    // Alice closes the case: Bob now gets it, with exactly Alice's records and nothing of his refused one.
    await alice.api.closeCase(a.id);
    const seen = (await bob.api.readJournal(b.id)).records.slice(start).map((r) => r.op.at);
    expect(seen).toEqual(['2026-01-01T00:00:01Z', '2026-01-01T00:00:03Z']);
    await bob.api.appendJournal(b.id, [rec(4)]);
    // And now Alice is the one refused, until Bob's tab goes.
    const a2 = await alice.api.openCase(CASE);
    await expect(alice.api.readJournal(a2.id)).rejects.toMatchObject({ code: 'locked' });
    bob.ws.close();
    await until(() => suite.host.service.counts().journalLocks === 0, 'lock released with the tab');
    expect((await alice.api.readJournal(a2.id)).records.slice(start).length).toBe(3);
    alice.ws.close();
    await until(() => suite.host.service.counts().cases === 0, 'cases released');
    expect(existsSync(caseFileFolder())).toBe(true);
  });
});

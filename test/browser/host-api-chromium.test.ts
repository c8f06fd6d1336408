import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVolume } from '../../core/src/node/load.ts';
import { SAMPLE_CASE, scratchDir } from '../../workers/src/host/service.ts';
import { buildApiPage, type Harness, startHarness } from './harness.ts';

/**
 * The real QuorumApi client (core/src/api.ts, bundled for the page) inside Chromium, against the
 * real host and engine: a 36 MB volume and streamed proposal results arrive as typed arrays.
 */
describe('QuorumApi over WebSocket inside Chromium', () => {
  let h: Harness;
  const dist = scratchDir('quorum-api-page');

  beforeAll(async () => {
    await buildApiPage(dist, 'api');
    h = await startHarness({ rendererDir: dist, build: false });
    await h.page.goto(h.url);
  });
  afterAll(async () => {
    await h?.cleanup();
    rmSync(dist, { recursive: true, force: true });
  });

  it('opens the initial case and receives its voxels as a Float32Array', async () => {
    const r = await h.page.evaluate(async () => {
      const api = await (window as any).connect();
      const app = await api.getAppInfo();
      const c = await api.openCase(app.initialCase);
      const v = await api.getVolume(c.id, 'flair');
      let sum = 0;
      for (let i = 0; i < v.data.length; i += 1000) sum += v.data[i];
      return {
        initial: app.initialCase,
        type: v.data.constructor.name,
        n: v.data.length,
        sum,
        v0: v.data[4_000_000],
      };
    });
    const ref = await loadVolume(join(SAMPLE_CASE, 'flair.nii.gz'));
    let sum = 0;
    for (let i = 0; i < ref.data.length; i += 1000) sum += ref.data[i];
    expect(r.initial).toBe(SAMPLE_CASE);
    expect(r.type).toBe('Float32Array');
    expect(r.n).toBe(ref.data.length);
    expect(r.v0).toBe(ref.data[4_000_000]);
    expect(r.sum).toBeCloseTo(sum, 2);
    expect(h.externalRequests).toEqual([]);
  });

  it('streams a one-slice proposal from the real engine into the page', async () => {
    const r = await h.page.evaluate(async () => {
      const api = await (window as any).connect();
      const c = await api.openSample();
      const events: any[] = [];
      await new Promise<void>((done) => {
        api.propose(
          { caseId: c.id, slices: 'current', currentSlice: 80, members: 2, steps: 3, seed: 3 },
          (e: any) => {
            events.push(e);
            if (e.type === 'done' || e.type === 'error' || e.type === 'cancelled') done();
          },
        );
      });
      const s = events.find((e) => e.type === 'slice')?.result;
      let lesion = 0;
      for (let i = 0; i < (s?.mask.length ?? 0); i++) lesion += s.mask[i];
      return {
        types: [...new Set(events.map((e) => e.type))],
        k: s?.k,
        meanType: s?.mean.constructor.name,
        maskType: s?.mask.constructor.name,
        n: s?.std.length,
        lesion,
      };
    });
    expect(r.types).toEqual(['started', 'progress', 'slice', 'done']);
    expect(r.k).toBe(80);
    expect(r.meanType).toBe('Float32Array');
    expect(r.maskType).toBe('Uint8Array');
    expect(r.n).toBe(240 * 240);
    expect(r.lesion).toBeGreaterThan(500); // slice 80 of pat0003 has ~3700 tumour voxels
  });
});

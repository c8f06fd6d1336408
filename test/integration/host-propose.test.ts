import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseInfo, ProposalEvent, SliceResult } from '../../core/src/api.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import type { Volume } from '../../core/src/volume.ts';
import { QuorumService, scratchDir } from '../../workers/src/host/service.ts';
import { proposeEvents } from '../helpers/host-run.ts';

const LABEL = resolve(
  __dirname,
  '../../../shared/data/brats2015-deepmedic/validation/brats_2013_pat0003_1/OTMultiClass.nii.gz',
);

describe('proposals through the host with the real engine and shipped model (held-out pat0003)', () => {
  let svc: QuorumService;
  let info: CaseInfo;
  let label: Volume;

  const state = scratchDir('quorum-prop');

  beforeAll(async () => {
    svc = new QuorumService({ mode: 'browser', stateDir: state, outDir: join(state, 'out') });
    info = await svc.openSample();
    label = await loadVolume(LABEL);
  });
  afterAll(async () => {
    await svc.close();
    rmSync(state, { recursive: true, force: true });
  });

  it('streams progress and per-slice results in the volume grid that agree with the expert label', async () => {
    const events = await proposeEvents(svc, {
      caseId: info.id,
      slices: [79, 81],
      members: 3,
      steps: 5,
      seed: 7,
    });
    const last = events[events.length - 1];
    expect(last.type).toBe('done');
    expect(events.some((e) => e.type === 'progress')).toBe(true);
    expect(events[0]).toMatchObject({ type: 'started', slices: [79, 80, 81], members: 3, steps: 5 });
    const results = events
      .filter((e) => e.type === 'slice')
      .map((e) => (e as { result: SliceResult }).result);
    expect(results.map((r) => r.k)).toEqual([79, 80, 81]);
    const [nx, ny] = info.geometry.dims;
    const plane = nx * ny;
    for (const r of results) {
      expect([r.width, r.height]).toEqual([nx, ny]);
      expect(r.mean.length).toBe(plane);
      expect(r.std.length).toBe(plane);
      let inter = 0;
      let a = 0;
      let b = 0;
      for (let i = 0; i < plane; i++) {
        expect(r.mask[i]).toBe(r.mean[i] >= 0.5 ? 1 : 0);
        const g = label.data[r.k * plane + i] > 0 ? 1 : 0;
        a += r.mask[i];
        b += g;
        inter += r.mask[i] & g;
      }
      // The expert whole-tumour label is the independent reference (the model never saw pat0003).
      expect((2 * inter) / (a + b)).toBeGreaterThan(0.6);
      expect(r.score).toBeGreaterThan(0);
    }
  });

  it('exports the uncertainty of the proposed slices kept by the host', async () => {
    const out = join(state, 'export');
    const n = info.geometry.dims[0] * info.geometry.dims[1] * info.geometry.dims[2];
    const res = await svc.export({
      caseId: info.id,
      formats: ['nifti-uncertainty', 'report-json'],
      mask: new Uint8Array(n),
      targetDir: out,
    });
    const u = await loadVolume(res.files['nifti-uncertainty'] as string);
    const plane = info.geometry.dims[0] * info.geometry.dims[1];
    const slicesWithStd = new Set<number>();
    for (let i = 0; i < u.data.length; i++) if (u.data[i] > 0) slicesWithStd.add(Math.floor(i / plane));
    expect([...slicesWithStd].sort((a, b) => a - b)).toEqual([79, 80, 81]);
    expect(res.report.slicesProposed).toEqual([79, 80, 81]);
  });

  it('cancels a whole-volume run after the first slice, then runs again', async () => {
    const events = await proposeEvents(
      svc,
      { caseId: info.id, slices: 'all', members: 2, steps: 3, seed: 1 },
      1,
    );
    const end = events[events.length - 1] as Extract<ProposalEvent, { type: 'cancelled' }>;
    expect(end.type).toBe('cancelled');
    expect(end.slicesDone).toEqual(
      events.filter((e) => e.type === 'slice').map((e) => (e as { result: SliceResult }).result.k),
    );
    const total = events.find((e) => e.type === 'progress') as { slicesTotal: number };
    // The engine stops at its next check (it works in batches), well before the whole volume.
    expect(events.filter((e) => e.type === 'slice').length).toBeLessThan(total.slicesTotal / 2);
    const again = await proposeEvents(svc, {
      caseId: info.id,
      slices: 'current',
      currentSlice: 60,
      members: 2,
      steps: 2,
    });
    expect(again[again.length - 1].type).toBe('done');
  });

  it('rejects slices outside the volume before starting', async () => {
    await expect(svc.propose({ caseId: info.id, slices: [150, 200] }, () => {})).rejects.toThrow(
      /outside 0-154/,
    );
    await expect(svc.propose({ caseId: info.id, slices: 'current' }, () => {})).rejects.toThrow(
      /currentSlice/,
    );
  });
});

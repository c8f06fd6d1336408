/**
 * The viewer's Refine through the host API (propose with `prompts`): real engine, shipped prompt
 * model, held-out pat0003 (the sample case). Only the slices the click touches come back, the
 * clicked slice first, never a protected slice; a bad click is an error event naming the problem.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseInfo, ProposalEvent, SliceResult } from '../../core/src/api.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { regionCentre } from '../../core/src/prompts.ts';
import type { Volume } from '../../core/src/volume.ts';
import { QuorumService, scratchDir } from '../../workers/src/host/service.ts';
import { proposeEvents } from '../helpers/host-run.ts';

const LABEL = resolve(
  __dirname,
  '../../../shared/data/brats2015-deepmedic/validation/brats_2013_pat0003_1/OTMultiClass.nii.gz',
);

describe('Refine through the host (propose with prompts)', () => {
  let svc: QuorumService;
  let info: CaseInfo;
  let label: Volume;
  const state = scratchDir('quorum-refine');

  beforeAll(async () => {
    svc = new QuorumService({ mode: 'browser', stateDir: state, outDir: join(state, 'out') });
    info = await svc.openSample();
    label = await loadVolume(LABEL);
  });
  afterAll(async () => {
    await svc.close();
    rmSync(state, { recursive: true, force: true });
  });

  it('streams the clicked slice first, then the slices of its lesion, and none that is protected', async () => {
    const [nx, ny] = info.geometry.dims;
    const k = 80;
    const plane = Uint8Array.from(
      label.data.subarray(k * nx * ny, (k + 1) * nx * ny) as ArrayLike<number>,
      (v) => (v > 0 ? 1 : 0),
    );
    const c = regionCentre(plane, ny, nx);
    const events = await proposeEvents(svc, {
      caseId: info.id,
      slices: 'all',
      seed: 0,
      prompts: { points: [{ ijk: [c % nx, Math.floor(c / nx), k], positive: true }], protect: [k + 2] },
    });
    const last = events[events.length - 1];
    expect(last.type).toBe('done');
    const results = events
      .filter((e) => e.type === 'slice')
      .map((e) => (e as { result: SliceResult }).result);
    expect(results[0].k).toBe(k);
    expect(results[0].mask[c]).toBe(1);
    const ks = results.map((r) => r.k);
    // the lesion spans many slices of pat0003: the click is followed to k - 1, not past the protected k + 2
    expect(ks).toContain(k - 1);
    expect(ks).not.toContain(k + 2);
    expect(ks.every((x) => x <= k + 1)).toBe(true);
    expect(new Set(ks).size).toBe(ks.length);
    expect((last as { slices: number[] }).slices.sort((a, b) => a - b)).toEqual(
      [...ks].sort((a, b) => a - b),
    );
  }, 300_000);

  it('a click outside the case is an error event naming the problem', async () => {
    const events = await proposeEvents(svc, {
      caseId: info.id,
      slices: 'all',
      prompts: { points: [{ ijk: [1, 1, 9999], positive: true }] },
    }).catch((e: Error) => [{ type: 'error', message: e.message } as ProposalEvent]);
    const last = events[events.length - 1] as { type: string; message?: string };
    expect(last.type).toBe('error');
    expect(last.message).toMatch(/prompt point 0 .* is outside/);
  });
});

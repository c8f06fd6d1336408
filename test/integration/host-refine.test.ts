/**
 * The viewer's Refine through the host API (propose with `prompts`): real engine, shipped prompt
 * model, held-out pat0003 (the sample case). Only the slices the click touches come back, the
 * clicked slice first, never a protected slice; a bad click is an error event naming the problem.
 * The same case stored in coronal slices takes the click too (every slice comes back).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseInfo, ProposalEvent, SliceResult } from '../../core/src/api.ts';
import { loadVolume, writeNiftiFile } from '../../core/src/node/load.ts';
import { regionCentre } from '../../core/src/prompts.ts';
import type { Volume } from '../../core/src/volume.ts';
import { QuorumService, scratchDir } from '../../workers/src/host/service.ts';
import { proposeEvents } from '../helpers/host-run.ts';
import { REPO } from '../helpers/paths.ts';
import { CORONAL, reorder } from '../helpers/reorder.ts';

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

  /** The centre of the reference lesion on k 80 (flat index c in the plane), where a user clicks. */
  const lesionCentre = () => {
    const [nx, ny] = info.geometry.dims;
    const k = 80;
    const plane = Uint8Array.from(
      label.data.subarray(k * nx * ny, (k + 1) * nx * ny) as ArrayLike<number>,
      (v) => (v > 0 ? 1 : 0),
    );
    return { nx, k, c: regionCentre(plane, ny, nx) };
  };

  it('streams the clicked slice first, then the slices of its lesion, and none that is protected', async () => {
    const { nx, k, c } = lesionCentre();
    const events = await proposeEvents(svc, {
      caseId: info.id,
      slices: 'all',
      seed: 0,
      // what is streamed, and in which order, not the masks' quality: the cheapest sampling will do
      members: 2,
      steps: 2,
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

  it('a case stored in coronal slices: the click re-proposes the whole volume, its lesion under the click', async () => {
    // the sample case written with voxel axes (S-I, L-R, A-P reversed): coronal slices, same world positions
    const dir = join(state, 'coronal-case');
    mkdirSync(dir, { recursive: true });
    let order: ReturnType<typeof reorder> | undefined;
    for (const seq of ['flair', 't1c']) {
      const v = await loadVolume(join(REPO, 'build', 'sample-case', 'brats_2013_pat0003', `${seq}.nii.gz`));
      order = reorder(v, ...CORONAL);
      writeNiftiFile(join(dir, `${seq}.nii.gz`), order.volume);
    }
    const { toOld, toNew } = order!;
    const sag = await svc.openCase(dir);
    const [n0, n1, n2] = sag.geometry.dims;
    expect([n0, n1, n2]).toEqual([155, 240, 240]);
    // a voxel inside the lesion, as the axial test clicks it, in the new voxel order
    const { nx, k, c } = lesionCentre();
    const old: [number, number, number] = [c % nx, Math.floor(c / nx), k];
    const ijk = toNew(old);
    expect(toOld(ijk)).toEqual(old);
    const events = await proposeEvents(svc, {
      caseId: sag.id,
      slices: 'all',
      seed: 0,
      members: 2,
      steps: 2,
      prompts: { points: [{ ijk, positive: true }] },
    });
    const last = events[events.length - 1];
    expect(last.type).toBe('done');
    const results = events
      .filter((e) => e.type === 'slice')
      .map((e) => (e as { result: SliceResult }).result);
    // every stored (coronal) slice with head comes back, whole
    expect(results.length).toBeGreaterThan(100);
    expect(new Set(results.map((r) => r.k)).size).toBe(results.length);
    const clicked = results.find((r) => r.k === ijk[2]);
    expect(clicked?.mask[ijk[0] + n0 * ijk[1]]).toBe(1);
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

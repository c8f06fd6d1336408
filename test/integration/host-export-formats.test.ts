import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseInfo, DatasetEvent, ProposalEvent, SliceResult } from '../../core/src/api.ts';
import { EXPORT_FORMATS } from '../../core/src/lists.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { QuorumService, scratchDir } from '../../workers/src/host/service.ts';
import { linkDataset } from '../helpers/dataset.ts';

/** Voxel for voxel (vitest's deep equality is far too slow for whole volumes). */
const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) =>
  a.constructor === b.constructor &&
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/**
 * The app's export of the probability map and member masks: a proposal run through the host
 * (without asking for members, as the viewer does by default) keeps both, and export writes them.
 */
describe('host export: probability map and member masks (real engine, sample case)', () => {
  let svc: QuorumService;
  let info: CaseInfo;
  const state = scratchDir('quorum-export-formats');

  beforeAll(async () => {
    svc = new QuorumService({ mode: 'browser', stateDir: state, outDir: join(state, 'out') });
    info = await svc.openSample();
  });
  afterAll(async () => {
    await svc.close();
    rmSync(state, { recursive: true, force: true });
  });

  it('AppInfo lists every format of the registry for the export dialog', async () => {
    const app = await svc.getAppInfo();
    expect(app.exportFormats.map((f) => f.format)).toEqual(EXPORT_FORMATS);
    expect(app.exportFormats.find((f) => f.format === 'nifti-probability')).toMatchObject({
      label: 'Probability NIfTI',
      needs: 'proposal',
    });
  });

  it('before any proposal the two are skipped with a warning; after one, written on the case grid', async () => {
    const [nx, ny, nz] = info.geometry.dims;
    const empty = new Uint8Array(nx * ny * nz);
    const before = await svc.export({
      caseId: info.id,
      formats: ['nifti-probability', 'nifti-members'],
      mask: empty,
      targetDir: join(state, 'before'),
    });
    expect(before.files).toEqual({});
    expect(before.warnings.join(' ')).toMatch(/no probability map.*no member masks/);

    const members = 2;
    const results = await new Promise<SliceResult[]>((done, fail) => {
      const got: SliceResult[] = [];
      svc
        .propose({ caseId: info.id, slices: [80, 81], members, steps: 3, seed: 5 }, (e: ProposalEvent) => {
          if (e.type === 'slice') got.push(e.result);
          if (e.type === 'done') done(got);
          if (e.type === 'error' || e.type === 'cancelled') fail(new Error(e.type));
        })
        .catch(fail);
    });
    // not asked for: the renderer gets no members, the host keeps them for the export
    expect(results.every((r) => r.members === undefined)).toBe(true);
    const mask = new Uint8Array(nx * ny * nz);
    for (const r of results) mask.set(r.mask, r.k * nx * ny);
    const out = join(state, 'after');
    const res = await svc.export({
      caseId: info.id,
      formats: ['nifti-probability', 'nifti-members'],
      mask,
      targetDir: out,
      baseName: 'case',
    });
    expect(res.warnings).toEqual([]);
    expect(res.files).toEqual({
      'nifti-probability': join(out, 'case_probability.nii.gz'),
      'nifti-members': join(out, 'case_members'),
    });
    const p = await loadVolume(join(out, 'case_probability.nii.gz'));
    const m = await Promise.all(
      Array.from({ length: members }, (_, i) =>
        loadVolume(join(out, 'case_members', `member-${i + 1}.nii.gz`)),
      ),
    );
    for (const v of [p, ...m]) {
      expect(v.dims).toEqual(info.geometry.dims);
      for (let i = 0; i < 3; i++) expect(v.origin[i]).toBeCloseTo(info.geometry.origin[i], 4);
    }
    for (const r of results)
      for (let i = 0; i < nx * ny; i++) {
        const at = r.k * nx * ny + i;
        if (Math.abs(p.data[at] - r.mean[i]) > 1e-6)
          throw new Error(`slice ${r.k} voxel ${i}: not the streamed mean`);
        if ((p.data[at] > 0.5 ? 1 : 0) !== mask[at]) throw new Error(`slice ${r.k} voxel ${i}: not the mask`);
      }
    let memberVoxels = 0;
    for (const v of m) for (let i = 0; i < v.data.length; i++) memberVoxels += v.data[i];
    expect(memberVoxels).toBeGreaterThan(100);
  });

  it('pre-labelling writes them when asked, and a case reviewed from its proposal exports them', async () => {
    const ds = linkDataset(join(state, 'study'), false);
    const w = await svc.openDataset(ds);
    await new Promise<void>((done, fail) => {
      svc
        .prelabel(
          w.id,
          {
            slices: [75, 76],
            members: 2,
            steps: 2,
            seed: 1,
            exports: ['nifti-probability', 'nifti-members'],
          },
          (e: DatasetEvent) => {
            if (e.type === 'queue' && e.state !== 'running') done();
          },
        )
        .catch(fail);
    });
    const pat3 = (await svc.getWorklist(w.id)).cases.find((c) => c.name === 'pat3')!;
    expect(pat3.status).toBe('proposed');
    const dir = pat3.proposalDir!;
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    expect(report.exports).toEqual(['nifti-mask', 'nifti-uncertainty', 'nifti-probability', 'nifti-members']);

    const kase = await svc.openCase(join(ds, 'pat3'));
    await svc.loadProposal(kase.id, dir);
    const [nx, ny, nz] = kase.geometry.dims;
    const out = join(state, 'reviewed');
    const res = await svc.export({
      caseId: kase.id,
      formats: ['nifti-probability', 'nifti-members'],
      mask: new Uint8Array(nx * ny * nz),
      targetDir: out,
      baseName: 'pat3',
    });
    expect(res.warnings).toEqual([]);
    const [written, original] = await Promise.all([
      loadVolume(join(out, 'pat3_probability.nii.gz')),
      loadVolume(join(dir, 'probability.nii.gz')),
    ]);
    expect(sameBytes(written.data, original.data)).toBe(true);
    const members = await Promise.all(
      [1, 2].map((m) => loadVolume(join(out, 'pat3_members', `member-${m}.nii.gz`))),
    );
    const originals = await Promise.all(
      [1, 2].map((m) => loadVolume(join(dir, 'members', `member-${m}.nii.gz`))),
    );
    for (const [m, v] of members.entries()) expect(sameBytes(v.data, originals[m].data)).toBe(true);
  }, 120_000);
});

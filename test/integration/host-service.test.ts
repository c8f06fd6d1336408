import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseInfo } from '../../core/src/api.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { QuorumService, SAMPLE_CASE, scratchDir } from '../../workers/src/host/service.ts';

const DATA = resolve(__dirname, '../../../shared/data');
const PAT3 = join(DATA, 'brats2015-deepmedic/validation/brats_2013_pat0003_1');

describe('host service on the shipped sample case (BraTS pat0003)', () => {
  let svc: QuorumService;
  let info: CaseInfo;
  const state = scratchDir('quorum-host-state');
  const out = scratchDir('quorum-host-out');

  beforeAll(async () => {
    svc = new QuorumService({ mode: 'browser', stateDir: state, outDir: out });
    info = await svc.openSample();
  });
  afterAll(async () => {
    await svc.close();
    rmSync(state, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  it('opens the sample with both model channels and the source grid', async () => {
    expect(info.root).toBe(SAMPLE_CASE);
    expect(info.sequences.map((s) => s.sequence).sort()).toEqual(['flair', 't1c']);
    expect(info.missingForModel).toEqual([]);
    const ref = await loadVolume(join(PAT3, 'Flair_subtrMeanDivStd.nii.gz'));
    expect(info.geometry.dims).toEqual(ref.dims);
    expect(info.geometry.origin).toEqual(ref.origin);
    expect(info.canExportDicomSeg).toBe(false);
  });

  it('serves the voxels of the original data unchanged, with a display range', async () => {
    const v = await svc.getVolume(info.id, 't1c');
    const ref = await loadVolume(join(PAT3, 'T1c_subtrMeanDivStd.nii.gz'));
    expect(v.dtype).toBe('float32');
    expect(v.data.length).toBe(ref.data.length);
    let diff = 0;
    for (let i = 0; i < ref.data.length; i += 97) diff = Math.max(diff, Math.abs(v.data[i] - ref.data[i]));
    expect(diff).toBe(0);
    expect(v.range.p005).toBeLessThan(v.range.p995);
    expect(v.range.min).toBeLessThanOrEqual(v.range.p005);
    await expect(svc.getVolume(info.id, 't2')).rejects.toThrow(/no t2/);
  });

  it('exports mask + uncertainty NIfTI on the source grid, and JSON/CSV reports', async () => {
    const [nx, ny, nz] = info.geometry.dims;
    const mask = new Uint8Array(nx * ny * nz);
    const unc = new Float32Array(nx * ny * nz);
    // An L-shaped mark on slice 80 and one voxel on 81: asymmetric, so a flipped axis would show.
    for (let i = 100; i < 130; i++) mask[i + nx * 90 + nx * ny * 80] = 1;
    for (let j = 90; j < 110; j++) mask[100 + nx * j + nx * ny * 80] = 1;
    mask[5 + nx * 7 + nx * ny * 81] = 1;
    for (let i = 0; i < unc.length; i += 1001) unc[i] = (i % 7) / 10;
    const res = await svc.export({
      caseId: info.id,
      formats: ['nifti-mask', 'nifti-uncertainty', 'report-json', 'report-csv', 'dicom-seg'],
      mask,
      uncertainty: unc,
      editedSlices: [81, 80],
      targetDir: out,
    });
    expect(res.warnings.join()).toMatch(/DICOM SEG needs a DICOM source/);
    const m = await loadVolume(res.files['nifti-mask'] as string);
    const ref = await loadVolume(join(SAMPLE_CASE, 'flair.nii.gz'));
    expect(m.dims).toEqual(ref.dims);
    expect(m.spacing).toEqual(ref.spacing);
    for (let a = 0; a < 3; a++) expect(m.origin[a]).toBeCloseTo(ref.origin[a], 4);
    for (let a = 0; a < 9; a++) expect(m.direction[a]).toBeCloseTo(ref.direction[a], 6);
    expect(m.source.datatype).toBe('uint8');
    expect(Array.from(m.data).every((x, i) => x === mask[i])).toBe(true);
    const u = await loadVolume(res.files['nifti-uncertainty'] as string);
    expect(u.source.datatype).toBe('float32');
    expect(Array.from(u.data).every((x, i) => x === unc[i])).toBe(true);
    const report = JSON.parse(readFileSync(res.files['report-json'] as string, 'utf8'));
    const expectedVoxels = 30 + 20 - 1 + 1;
    expect(report.lesionVoxels).toBe(expectedVoxels);
    // 1 mm isotropic: 1 voxel = 0.001 mL
    expect(report.lesionVolumeMl).toBeCloseTo(expectedVoxels * 0.001, 9);
    expect(report.slicesWithLesion).toEqual([80, 81]);
    expect(report.slicesEdited).toEqual([80, 81]);
    const csv = readFileSync(res.files['report-csv'] as string, 'utf8')
      .trim()
      .split('\n');
    expect(csv).toHaveLength(2);
    expect(csv[0].split(',')[2]).toBe('lesion_volume_ml');
    expect(csv[1].split(',')[2]).toBe((expectedVoxels * 0.001).toFixed(3));
  });

  it('never exports over an input image (a numbered name instead), and rejects a wrong-size mask', async () => {
    // A case whose FLAIR file happens to be named like an export: the export must not replace it.
    const dir = scratchDir('quorum-host-collide');
    const flair = join(dir, 'p_quorum_mask.nii.gz');
    copyFileSync(join(SAMPLE_CASE, 'flair.nii.gz'), flair);
    const before = readFileSync(flair);
    const c = await svc.openCase({ flair, t1c: join(SAMPLE_CASE, 't1c.nii.gz') });
    expect(c.root).toBe(dir); // explicit files: the case lives in the reference file's folder
    const n = c.geometry.dims[0] * c.geometry.dims[1] * c.geometry.dims[2];
    // Never replaced: the export takes the next free name (issue 13; core/src/node/atomic.ts).
    const res = await svc.export({
      caseId: c.id,
      formats: ['nifti-mask'],
      mask: new Uint8Array(n),
      targetDir: dir,
      baseName: 'p_quorum',
    });
    expect(res.files['nifti-mask']).toBe(join(dir, 'p_quorum-2_mask.nii.gz'));
    expect(readFileSync(flair).equals(before)).toBe(true);
    await expect(
      svc.export({ caseId: info.id, formats: ['nifti-mask'], mask: new Uint8Array(10), targetDir: out }),
    ).rejects.toThrow(/mask has 10 voxels/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reassigns sequences by swapping, and keeps a journal per case', async () => {
    const flairPath = info.sequences.find((s) => s.sequence === 'flair')?.path as string;
    const swapped = await svc.assignSequence(info.id, flairPath, 't1c');
    expect(swapped.sequences.find((s) => s.path === flairPath)?.sequence).toBe('t1c');
    expect(swapped.sequences.map((s) => s.sequence).sort()).toEqual(['flair', 't1c']);
    await svc.assignSequence(info.id, flairPath, 'flair');
    await svc.appendJournal(info.id, [
      { op: { kind: 'paint', slice: 80 }, bytes: new Uint8Array([1, 2, 3]) },
    ]);
    await svc.appendJournal(info.id, [{ op: { kind: 'undo' } }]);
    const j = (await svc.readJournal(info.id)).records;
    expect(j.map((r) => r.op.kind)).toEqual(['paint', 'undo']);
    expect(Array.from(j[0].bytes as Uint8Array)).toEqual([1, 2, 3]);
    // Reopening the same files finds the journal; other files have their own.
    const again = await svc.openCase(SAMPLE_CASE);
    expect((await svc.readJournal(again.id)).records.length).toBe(2);
    const other = await svc.openCase({ flair: join(SAMPLE_CASE, 'flair.nii.gz') });
    expect(await svc.readJournal(other.id)).toEqual({ records: [] });
    const recent = await svc.listRecent();
    expect(recent.map((r) => r.input)).toContain(SAMPLE_CASE);
  });

  it('gives a QuorumError naming the path for a missing case', async () => {
    await expect(svc.openCase('/nonexistent/case')).rejects.toThrow(/nonexistent\/case/);
  });
});

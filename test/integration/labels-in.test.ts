import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseInfo, DatasetEvent } from '../../core/src/api.ts';
import { byLabelDisagreement, labelDisagreement } from '../../core/src/label-disagreement.ts';
import { dicomLabToRgb } from '../../core/src/labels-seg.ts';
import { loadVolume, writeNiftiFile } from '../../core/src/node/load.ts';
import { QuorumService, scratchDir } from '../../workers/src/host/service.ts';
import { quorum, quorumWith } from '../helpers/cli.ts';
import { DATA, PAT3, PYTHON } from '../helpers/paths.ts';

/**
 * Existing labels in (issue 16): a label file opened with its case becomes the case's label
 * (getVolume 'label', the viewer's starting labelmap), through the same QuorumService.openCase
 * the app calls. Real data only: a TCGA-LGG case and its expert mask, a BraTS case and its
 * expert labels 0-4, a real GE DICOM series for DICOM SEG.
 */
const TCGA = join(DATA, 'tcga-lgg', 'TCGA_CS_4941_19960909');
const GE_SERIES = join(DATA, 'dicom', 'dcm_qa_nih', 'In', '20180918GE', 'mr_0004');
const PAT222 = join(DATA, 'brats-4seq', 'brats2015-tcia-pat222');
const SI_SERIES = join(DATA, 'dicom', 'dcm_qa_nih', 'In', '20180918Si', 'mr_0003');

const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const u8 = (a: ArrayLike<number>) => Uint8Array.from(a);
const count = (a: ArrayLike<number>, pred: (v: number) => boolean = (v) => v !== 0) => {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (pred(a[i])) n++;
  return n;
};

describe('labels in: open a case with a label file (QuorumService.openCase, real data)', () => {
  const state = scratchDir('quorum-labels-in');
  let svc: QuorumService;
  let tcga: CaseInfo;
  let expert: Uint8Array;

  beforeAll(async () => {
    svc = new QuorumService({ mode: 'browser', stateDir: join(state, 'state'), outDir: join(state, 'out') });
    tcga = await svc.openCase(TCGA);
    expert = u8((await loadVolume(join(TCGA, 'seg.nii.gz'))).data);
  });
  afterAll(async () => {
    await svc.close();
    rmSync(state, { recursive: true, force: true });
  });

  it('a NIfTI label exported by Quorum opens back as a labelmap equal voxel for voxel (values kept)', async () => {
    const [nx, ny, nz] = tcga.geometry.dims;
    // The expert mask as value 1, plus a block of value 3 (a second segment), as the app exports it.
    const mask = expert.slice();
    for (let k = 5; k < 8; k++)
      for (let j = 20; j < 40; j++) for (let i = 30; i < 60; i++) mask[i + nx * (j + ny * k)] = 3;
    expect(mask.length).toBe(nx * ny * nz);
    const res = await svc.export({
      caseId: tcga.id,
      formats: ['nifti-mask'],
      mask,
      targetDir: join(state, 'nifti-out'),
    });
    const file = res.files['nifti-mask']!;
    const back = await svc.openCase(TCGA, { labels: file });
    expect(back.labelsIn).toMatchObject({
      path: file,
      voxels: count(mask),
      grid: 'on the case grid as read',
    });
    expect(back.labelsIn!.segments.map((s) => s.value)).toEqual([1, 3]);
    const label = await svc.getVolume(back.id, 'label');
    expect(label.dtype).toBe('uint8');
    expect(sameBytes(label.data, mask)).toBe(true);
    expect(back.labelPath).toBe(file);
  });

  it('a DICOM SEG exported by Quorum opens back equal voxel for voxel, placed by SOP instance and by position', async () => {
    const info = await svc.openCase({ flair: GE_SERIES });
    expect(info.canExportDicomSeg).toBe(true);
    const [nx, ny, nz] = info.geometry.dims;
    const img = (await svc.getVolume(info.id, 'flair')).data;
    // A real structure: the brightest 3% of the image on every other slice.
    const sorted = Float64Array.from(img).sort();
    const cut = sorted[Math.floor(sorted.length * 0.97)];
    const mask = new Uint8Array(nx * ny * nz);
    for (let i = 0; i < mask.length; i++)
      if (img[i] > cut && Math.floor(i / (nx * ny)) % 2 === 0) mask[i] = 1;
    expect(count(mask)).toBeGreaterThan(500);
    const res = await svc.export({
      caseId: info.id,
      formats: ['dicom-seg'],
      mask,
      targetDir: join(state, 'seg-out'),
    });
    const seg = res.files['dicom-seg']!;

    const back = await svc.openCase({ flair: GE_SERIES }, { labels: seg });
    expect(back.labelsIn?.grid).toMatch(/source images they reference/);
    // DICOM's scaled CIELab to sRGB: pure red as highdicom writes it, white, black.
    expect(dicomLabToRgb([34891, 53478, 50166])).toEqual([255, 0, 0]);
    expect(dicomLabToRgb([65535, 32896, 32896])).toEqual([255, 255, 255]);
    expect(dicomLabToRgb([0, 32896, 32896])).toEqual([0, 0, 0]);
    expect(back.labelsIn?.segments).toEqual([
      {
        value: 1,
        name: 'Lesion',
        colour: dicomLabToRgb([43802, 26566, 37721]),
        visible: true,
        locked: false,
      },
    ]);
    expect(sameBytes((await svc.getVolume(back.id, 'label')).data, mask)).toBe(true);

    // The same series as NIfTI (as dcm2niix would convert it): frames placed by their plane positions.
    const vol = await loadVolume(GE_SERIES);
    const niftiCase = join(state, 'ge-nifti');
    mkdirSync(niftiCase);
    writeNiftiFile(join(niftiCase, 'flair.nii.gz'), { ...vol, source: { ...vol.source, format: 'nifti' } });
    const asNifti = await svc.openCase(niftiCase, { labels: seg });
    expect(asNifti.labelsIn?.grid).toMatch(/plane positions/);
    expect(sameBytes((await svc.getVolume(asNifti.id, 'label')).data, mask)).toBe(true);

    // Two segments (a second one added with pydicom, an independent writer): values 1 and 2, the
    // later segment winning where they overlap, names and colours from the SegmentSequence.
    const two = join(state, 'two-segments.dcm');
    execFileSync(PYTHON, [
      '-c',
      `
import copy, sys, numpy as np, pydicom
ds = pydicom.dcmread(sys.argv[1])
n, rows, cols = int(ds.NumberOfFrames), ds.Rows, ds.Columns
bits = np.unpackbits(np.frombuffer(ds.PixelData, np.uint8), bitorder='little')[: n * rows * cols].reshape(n, rows, cols)
extra = np.zeros_like(bits); extra[:, :10, :10] = 1
packed = np.packbits(np.concatenate([bits, extra]).ravel(), bitorder='little')
ds.PixelData = (packed.tobytes() + b'\\0' * (len(packed) % 2))
ds.NumberOfFrames = 2 * n
s2 = copy.deepcopy(ds.SegmentSequence[0]); s2.SegmentNumber = 2; s2.SegmentLabel = 'Oedema'
s2.RecommendedDisplayCIELabValue = [65535, 32896, 32896]
ds.SegmentSequence.append(s2)
for f in range(n):
    it = copy.deepcopy(ds.PerFrameFunctionalGroupsSequence[f])
    it.SegmentIdentificationSequence[0].ReferencedSegmentNumber = 2
    it.FrameContentSequence[0].DimensionIndexValues = [2, it.FrameContentSequence[0].DimensionIndexValues[1]]
    ds.PerFrameFunctionalGroupsSequence.append(it)
ds.save_as(sys.argv[2])
`,
      seg,
      two,
    ]);
    const expected2 = mask.slice();
    for (let k = 0; k < nz; k++) {
      if (!mask.subarray(k * nx * ny, (k + 1) * nx * ny).some((v) => v)) continue;
      for (let j = 0; j < 10; j++) for (let i = 0; i < 10; i++) expected2[i + nx * (j + ny * k)] = 2;
    }
    const twoBack = await svc.openCase({ flair: GE_SERIES }, { labels: two });
    expect(twoBack.labelsIn?.segments.map((x) => [x.value, x.name, x.colour])).toEqual([
      [1, 'Lesion', dicomLabToRgb([43802, 26566, 37721])],
      [2, 'Oedema', [255, 255, 255]],
    ]);
    expect(sameBytes((await svc.getVolume(twoBack.id, 'label')).data, expected2)).toBe(true);

    // quorum evaluate reuses the reader: the SEG as truth for the same mask as NIfTI gives Dice 1.
    const pred = join(state, 'ge-mask.nii.gz');
    writeNiftiFile(pred, { ...vol, data: mask, source: { ...vol.source, format: 'nifti' } });
    const ev = quorum('evaluate', '--pred', pred, '--truth', seg);
    expect(ev.stderr).toBe('');
    expect(JSON.parse(ev.stdout)).toMatchObject({ dice: 1, predVolumeMl: expect.any(Number) });

    // A SEG of this series opened with another series: refused, naming the file and both series.
    await expect(svc.openCase({ flair: SI_SERIES }, { labels: seg })).rejects.toThrow(
      new RegExp(
        `${seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: this SEG references series .* not the case's series`,
      ),
    );
  });

  it('a label on another grid (axes permuted and flipped, or cropped) lands on the same voxels', async () => {
    const dir = join(state, 'grids');
    mkdirSync(dir);
    execFileSync(PYTHON, [
      '-c',
      `
import nibabel as nib, numpy as np, sys
src = nib.load(sys.argv[1]); d = np.asarray(src.dataobj).astype(np.uint8); a = src.affine
# new voxel (p,q,r) holds old voxel (i,j,k) = (q, n1-1-r, n2-1-p): axes permuted, two flipped;
# the affine follows (a @ m), so every voxel keeps its world position
n = d.shape
t = np.transpose(d, (2, 0, 1))[::-1, :, ::-1]
m = np.zeros((4, 4)); m[3, 3] = 1
m[0, 1] = 1
m[1, 2] = -1; m[1, 3] = n[1] - 1
m[2, 0] = -1; m[2, 3] = n[2] - 1
img = nib.Nifti1Image(np.ascontiguousarray(t), a @ m); img.set_qform(a @ m, 1); img.set_sform(a @ m, 1)
nib.save(img, sys.argv[2] + '/permuted.nii.gz')
# a crop: a box around the lesion, with its origin moved to the box corner
box = d[60:200, 50:210, 3:20]
c = a.copy(); c[:3, 3] = a[:3, :3] @ [60, 50, 3] + a[:3, 3]
img = nib.Nifti1Image(np.ascontiguousarray(box), c); img.set_qform(c, 1); img.set_sform(c, 1)
nib.save(img, sys.argv[2] + '/cropped.nii.gz')
# the crop again without any orientation: cannot be placed
img = nib.Nifti1Image(np.ascontiguousarray(box), np.eye(4)); img.set_qform(None, 0); img.set_sform(None, 0)
nib.save(img, sys.argv[2] + '/no-orientation.nii.gz')
`,
      join(TCGA, 'seg.nii.gz'),
      dir,
    ]);
    const permuted = await svc.openCase(TCGA, { labels: join(dir, 'permuted.nii.gz') });
    expect(permuted.labelsIn?.grid).toMatch(
      /^resampled onto the case grid .*covers 100% of it, axes 0° apart/,
    );
    expect(sameBytes((await svc.getVolume(permuted.id, 'label')).data, expert)).toBe(true);

    const cropped = await svc.openCase(TCGA, { labels: join(dir, 'cropped.nii.gz') });
    const [nx, ny] = tcga.geometry.dims;
    const inBox = expert.map((v, x) => {
      const i = x % nx;
      const j = Math.floor(x / nx) % ny;
      const k = Math.floor(x / (nx * ny));
      return i >= 60 && i < 200 && j >= 50 && j < 210 && k >= 3 && k < 20 ? v : 0;
    });
    expect(count(inBox)).toBeGreaterThan(1000);
    expect(sameBytes((await svc.getVolume(cropped.id, 'label')).data, inBox)).toBe(true);

    await expect(svc.openCase(TCGA, { labels: join(dir, 'no-orientation.nii.gz') })).rejects.toThrow(
      /no-orientation\.nii\.gz: the label grid cannot be matched to the case: its extent is 140x160x17 \(the case's 256x256x23\) and its header has no orientation/,
    );
  });

  it("the shared data's expert labels open as starting labels: TCGA-LGG mask and BraTS labels 1-4", async () => {
    const t = await svc.openCase(TCGA, { labels: join(TCGA, 'seg.nii.gz') });
    expect(t.labelsIn?.voxels).toBe(count(expert));
    expect(t.labelsIn?.segments.map((s) => [s.value, s.name])).toEqual([[1, 'Label 1']]);

    const file = join(PAT3, 'OTMultiClass.nii.gz');
    const truth = (await loadVolume(file)).data;
    const b = await svc.openCase(PAT3, { labels: file });
    expect(b.labelsIn?.segments.map((s) => s.value)).toEqual([1, 2, 3, 4]);
    const got = (await svc.getVolume(b.id, 'label')).data;
    expect(sameBytes(got, u8(truth))).toBe(true);
    for (const v of [1, 2, 3, 4]) expect(count(got, (x) => x === v)).toBeGreaterThan(0);

    // A sidecar names the values and gives their colours.
    const dir = join(state, 'sidecar');
    mkdirSync(dir);
    execFileSync('cp', [file, join(dir, 'labels.nii.gz')]);
    writeFileSync(
      join(dir, 'labels.segments.json'),
      JSON.stringify([
        { value: 1, name: 'necrosis', colour: [10, 20, 30] },
        { value: 2, name: 'oedema' },
      ]),
    );
    const named = await svc.openCase(PAT3, { labels: join(dir, 'labels.nii.gz') });
    expect(named.labelsIn?.segments.slice(0, 3)).toMatchObject([
      { value: 1, name: 'necrosis', colour: [10, 20, 30] },
      { value: 2, name: 'oedema' },
      { value: 3, name: 'Label 3' },
    ]);
  });

  it('label values above 255 (e.g. an atlas numbering) are renumbered 1..n, names keep the values', async () => {
    const dir = join(state, 'big-values');
    mkdirSync(dir);
    const file = join(PAT3, 'OTMultiClass.nii.gz');
    execFileSync(PYTHON, [
      '-c',
      `
import sys, numpy as np, nibabel as nib
src = nib.load(sys.argv[1]); d = np.asarray(src.dataobj).astype(np.int16) * 1000
nib.save(nib.Nifti1Image(d, src.affine, src.header), sys.argv[2])
`,
      file,
      join(dir, 'atlas.nii.gz'),
    ]);
    const b = await svc.openCase(PAT3, { labels: join(dir, 'atlas.nii.gz') });
    expect(b.labelsIn?.segments.map((s) => [s.value, s.name])).toEqual([
      [1, 'Label 1000'],
      [2, 'Label 2000'],
      [3, 'Label 3000'],
      [4, 'Label 4000'],
    ]);
    expect(b.warnings.join('\n')).toMatch(/atlas\.nii\.gz: label values above 254 renumbered 1\.\.4/);
    expect(sameBytes((await svc.getVolume(b.id, 'label')).data, u8((await loadVolume(file)).data))).toBe(
      true,
    );
  });

  it('refuses what is not a label map, naming the file: an image (non-integer, too many values)', async () => {
    await expect(svc.openCase(PAT3, { labels: join(PAT3, 'Flair_subtrMeanDivStd.nii.gz') })).rejects.toThrow(
      /Flair_subtrMeanDivStd\.nii\.gz: not a label map: it holds (non-integer|negative) values/,
    );
    // Raw 16-bit intensities: integers, but thousands of distinct values.
    await expect(svc.openCase(PAT222, { labels: join(PAT222, 'T1.nii.gz') })).rejects.toThrow(
      /T1\.nii\.gz: too many labels: \d+ distinct values \(a labelmap holds at most 254\)/,
    );
    await expect(svc.openCase(TCGA, { labels: join(TCGA, 'nothing.nii.gz') })).rejects.toThrow(
      /nothing\.nii\.gz: no such label file/,
    );
  });
});

describe('labels in, dataset mode: labels/ and _seg files picked up, disagreement sorts the cases', () => {
  const state = scratchDir('quorum-labels-dataset');
  const ds = join(state, 'dataset');
  let svc: QuorumService;

  beforeAll(async () => {
    // Three cases on the same real images (symlinks): the expert label as it is (labels/good),
    // emptied (labels/emptied) and moved 40 voxels sideways (shifted_seg.nii.gz among its images).
    mkdirSync(join(ds, 'labels'), { recursive: true });
    for (const name of ['good', 'emptied', 'shifted']) {
      mkdirSync(join(ds, name));
      for (const f of ['flair.nii.gz', 't1c.nii.gz']) symlinkSync(join(TCGA, f), join(ds, name, f));
    }
    symlinkSync(join(TCGA, 'seg.nii.gz'), join(ds, 'labels', 'good.nii.gz'));
    const seg = await loadVolume(join(TCGA, 'seg.nii.gz'));
    writeNiftiFile(join(ds, 'labels', 'emptied.nii.gz'), { ...seg, data: new Uint8Array(seg.data.length) });
    const [nx] = seg.dims;
    const moved = new Uint8Array(seg.data.length);
    for (let x = 0; x < moved.length; x++) if (seg.data[x] && (x % nx) + 40 < nx) moved[x + 40] = 1;
    writeNiftiFile(join(ds, 'shifted', 'shifted_seg.nii.gz'), { ...seg, data: moved });
    svc = new QuorumService({ mode: 'browser', stateDir: join(state, 'state'), outDir: join(state, 'out') });
  });
  afterAll(async () => {
    await svc.close();
    rmSync(state, { recursive: true, force: true });
  });

  it('the score: 1 - Dice when the model is sure, disagreement where members split evenly counts nothing', () => {
    const p = [1, 1, 1, 0, 0];
    const l = [1, 1, 0, 1, 0];
    const sure = labelDisagreement(p, [0, 0, 0, 0, 0], l);
    expect(sure.dice).toBeCloseTo(4 / 6, 12);
    expect(sure.score).toBeCloseTo(1 - sure.dice, 12);
    expect(sure.differing).toBe(2);
    expect(labelDisagreement(p, [0, 0, 0.5, 0.5, 0], l)).toMatchObject({
      score: 0,
      meanStdWhereDiffering: 0.5,
    });
    expect(labelDisagreement([0, 0], [0, 0], [0, 0]).score).toBe(0);
  });

  it('the worklist shows which cases have a label; after pre-labelling the corrupted labels sort first', async () => {
    const w = await svc.openDataset(ds);
    const byName = Object.fromEntries(w.cases.map((c) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(['emptied', 'good', 'shifted']); // labels/ is no case
    expect(byName.good.labelPath).toBe(join(ds, 'labels', 'good.nii.gz'));
    expect(byName.emptied.labelPath).toBe(join(ds, 'labels', 'emptied.nii.gz'));
    expect(byName.shifted.labelPath).toBe(join(ds, 'shifted', 'shifted_seg.nii.gz'));

    await new Promise<void>((done, fail) => {
      svc
        .prelabel(w.id, { slices: [9, 18], members: 3, seed: 3 }, (e: DatasetEvent) => {
          if (e.type === 'queue' && e.state !== 'running') done();
        })
        .catch(fail);
    });
    const after = await svc.getWorklist(w.id);
    expect(after.warnings).toEqual([]);
    const scored = Object.fromEntries(after.cases.map((c) => [c.name, c]));
    for (const c of after.cases) expect(c.labelDisagreement, c.name).toBeGreaterThanOrEqual(0);
    // The same images and seed give the same proposal: only the labels differ.
    expect(scored.good.labelDice).toBeGreaterThan(0.5);
    expect(scored.emptied.labelDice).toBe(0);
    expect(scored.good.labelDisagreement).toBeLessThan(scored.shifted.labelDisagreement!);
    expect(scored.good.labelDisagreement).toBeLessThan(scored.emptied.labelDisagreement!);
    const order = [...after.cases].sort(byLabelDisagreement).map((c) => c.name);
    expect(order[2]).toBe('good');

    // Proposals found on disk (as a cluster run leaves them) are scored when the queue runs.
    const ds2 = join(state, 'dataset2');
    mkdirSync(ds2);
    for (const n of ['good', 'emptied', 'shifted', 'labels']) symlinkSync(join(ds, n), join(ds2, n));
    cpSync(join(state, 'dataset.quorum', 'proposals'), join(state, 'dataset2.quorum', 'proposals'), {
      recursive: true,
    });
    const w2 = await svc.openDataset(ds2);
    expect(w2.cases.map((c) => [c.status, c.labelDisagreement])).toEqual([
      ['proposed', undefined],
      ['proposed', undefined],
      ['proposed', undefined],
    ]);
    await new Promise<void>((done, fail) => {
      svc
        .prelabel(w2.id, {}, (e: DatasetEvent) => {
          if (e.type === 'queue' && e.state !== 'running') done();
        })
        .catch(fail);
    });
    const rescored = Object.fromEntries(
      (await svc.getWorklist(w2.id)).cases.map((c) => [c.name, c.labelDisagreement]),
    );
    expect(rescored).toEqual(Object.fromEntries(after.cases.map((c) => [c.name, c.labelDisagreement])));

    // quorum propose-dataset on the same folder: labels/ is no case there either.
    const out = join(state, 'cli-out');
    const cli = quorumWith(
      { timeoutMs: 300_000 },
      'propose-dataset',
      ds,
      '--out',
      out,
      '--slices',
      '12:12',
      '--members',
      '2',
    );
    expect(cli.code, cli.stderr).toBe(0);
    const csv = readFileSync(join(out, 'summary.csv'), 'utf8');
    expect(
      csv
        .split('\n')
        .slice(1)
        .filter(Boolean)
        .map((l) => l.split(',')[0]),
    ).toEqual(['emptied', 'good', 'shifted']);

    // A worklist case opens with its label as the starting labelmap (as the renderer opens it).
    const opened = await svc.openCase(scored.shifted.path, { labels: scored.shifted.labelPath });
    const shiftedLabel = (await loadVolume(join(ds, 'shifted', 'shifted_seg.nii.gz'))).data;
    expect(opened.labelsIn?.voxels).toBe(count(shiftedLabel));
  });
});

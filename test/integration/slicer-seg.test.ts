import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCase } from '../../core/src/node/case.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { QuorumService, scratchDir } from '../../workers/src/host/service.ts';
import { DATA, PYTHON, REPO } from '../helpers/paths.ts';

/**
 * 3D Slicer segmentations (.seg.nrrd) as labels in: segment names, colours and label values from
 * the header, and overlapping segments (a file in layers) merged into Quorum's one-value labelmap.
 * The files are a real expert mask (TCGA-LGG CS_4941) written as Slicer saves segmentations
 * (test/helpers/slicer_seg.py: cropped to the segments, LPS, gzip, UTF-8 names); the export side
 * (Quorum writes .seg.nrrd) is in export-segments.test.ts.
 */
const TCGA = join(DATA, 'tcga-lgg', 'TCGA_CS_4941_19960909');
const WRITER = join(REPO, 'test', 'helpers', 'slicer_seg.py');

interface Written {
  tumour: number;
  core: number;
  marker: number;
  overlap: number;
}

const count = (a: ArrayLike<number>, pred: (v: number) => boolean) => {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (pred(a[i])) n++;
  return n;
};

describe('3D Slicer .seg.nrrd labels in', () => {
  const state = scratchDir('quorum-slicer-seg');
  let svc: QuorumService;
  let layered: Written;
  const write = (file: string, kind: 'layered' | 'flat'): Written =>
    JSON.parse(execFileSync(PYTHON, [WRITER, join(TCGA, 'seg.nii.gz'), file, kind]).toString());

  beforeAll(() => {
    svc = new QuorumService({ mode: 'browser', stateDir: join(state, 'state'), outDir: join(state, 'out') });
    layered = write(join(state, 'Segmentation.seg.nrrd'), 'layered');
    write(join(state, 'flat.seg.nrrd'), 'flat');
  });
  afterAll(async () => {
    await svc.close();
    rmSync(state, { recursive: true, force: true });
  });

  it('overlapping segments in two layers: merged, named from the header, the later segment kept where they overlap', async () => {
    const c = await svc.openCase(TCGA, { labels: join(state, 'Segmentation.seg.nrrd') });
    // label values repeat across layers (1, 2, 1): numbered 1..3 in Slicer's order
    expect(c.labelsIn?.segments.map((s) => [s.value, s.name, s.colour])).toEqual([
      [1, 'Tumor', [230, 26, 26]],
      [2, 'Marker', [26, 230, 26]],
      [3, 'Core (nécrose)', [51, 102, 255]],
    ]);
    const got = (await svc.getVolume(c.id, 'label')).data;
    const expert = (await loadVolume(join(TCGA, 'seg.nii.gz'))).data;
    // the crop was placed back by the file's origin: every expert voxel is labelled, nothing else but the marker
    expect(count(expert, (v) => v > 0)).toBe(layered.tumour);
    let outside = 0;
    for (let i = 0; i < got.length; i++) if (got[i] && !expert[i] && got[i] !== 2) outside++;
    expect(outside).toBe(0);
    expect(count(got, (v) => v === 3)).toBe(layered.core);
    expect(count(got, (v) => v === 1)).toBe(layered.tumour - layered.core);
    expect(count(got, (v) => v === 2)).toBe(layered.marker);
    expect(c.warnings.join('\n')).toMatch(/2 layers \(overlapping segments\), merged/);
    expect(c.warnings.join('\n')).toMatch(
      new RegExp(`${layered.overlap} voxels belong to more than one segment`),
    );
  });

  it('one layer: the label value a user set in Slicer is kept, with its name', async () => {
    const c = await svc.openCase(TCGA, { labels: join(state, 'flat.seg.nrrd') });
    expect(c.labelsIn?.segments.map((s) => [s.value, s.name])).toEqual([[5, 'Lesion']]);
    const got = (await svc.getVolume(c.id, 'label')).data;
    expect(count(got, (v) => v === 5)).toBe(layered.tumour);
    expect(count(got, (v) => v !== 0 && v !== 5)).toBe(0);
  });

  it('an empty segmentation (one voxel, as Slicer saves segments without voxels) brings its segments and no voxels', async () => {
    const file = join(state, 'empty.seg.nrrd');
    const header = [
      'NRRD0004',
      'type: unsigned char',
      'dimension: 3',
      'space: left-posterior-superior',
      'sizes: 1 1 1',
      'space directions: (1,0,0) (0,1,0) (0,0,1)',
      'kinds: domain domain domain',
      'encoding: raw',
      'space origin: (-1000,-1000,-1000)',
      'Segment0_Color:=1 0 0',
      'Segment0_ID:=Segment_1',
      'Segment0_LabelValue:=1',
      'Segment0_Layer:=0',
      'Segment0_Name:=Tumor',
    ].join('\n');
    writeFileSync(file, Buffer.concat([Buffer.from(`${header}\n\n`), Buffer.from([0])]));
    const c = await svc.openCase(TCGA, { labels: file });
    expect(c.labelsIn?.segments.map((s) => [s.value, s.name, s.colour])).toEqual([[1, 'Tumor', [255, 0, 0]]]);
    expect(c.labelsIn?.voxels).toBe(0);
    expect(c.labelsIn?.grid).toMatch(/empty 3D Slicer segmentation/);
  });

  it("in a case folder, Slicer's Segmentation.seg.nrrd is the case's label, all its layers", async () => {
    const dir = join(state, 'case');
    mkdirSync(dir);
    symlinkSync(join(TCGA, 'flair.nii.gz'), join(dir, 'flair.nii.gz'));
    symlinkSync(join(state, 'Segmentation.seg.nrrd'), join(dir, 'Segmentation.seg.nrrd'));
    const c = await openCase(dir);
    expect(c.labelPath).toBe(join(dir, 'Segmentation.seg.nrrd'));
    expect(count(c.label!.data, (v) => v > 0)).toBe(layered.tumour + layered.marker);
    expect(count(c.label!.data, (v) => v === 3)).toBe(layered.core);
  });
});

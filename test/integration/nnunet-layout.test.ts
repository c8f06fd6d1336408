import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCase } from '../../core/src/node/case.ts';
import { loadVolume, writeNiftiFile } from '../../core/src/node/load.ts';
import { listDatasetCases } from '../../workers/src/dataset-cases.ts';
import { labelsFolder } from '../../workers/src/host/dataset-labels.ts';
import { quorumAsync as cli } from '../helpers/cli.ts';
import { DATA } from '../helpers/paths.ts';

// nnU-Net (v1 and v2) stores a case as one file per channel, <case>_0000.nii.gz, …, named in
// dataset.json, with the reference in labelsTr/<case>.nii.gz. Built here from real cases' files.
const FG = join(DATA, 'tcga-lgg', 'TCGA_FG_6689_20020326'); // a held-out site's patient
const PAT222 = resolve(DATA, 'brats-4seq', 'brats2015-tcia-pat222');

const root = mkdtempSync(join(tmpdir(), 'quorum-nnunet-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dataset = join(root, 'Dataset042_Glioma');
const images = join(dataset, 'imagesTr');

beforeAll(async () => {
  mkdirSync(images, { recursive: true });
  mkdirSync(join(dataset, 'labelsTr'));
  // channel 0 is the T1c, channel 1 the FLAIR: the order is the dataset's, said only by dataset.json
  writeFileSync(
    join(dataset, 'dataset.json'),
    JSON.stringify({
      channel_names: { 0: 'T1ce', 1: 'FLAIR' },
      labels: { background: 0, tumour: 1 },
      file_ending: '.nii.gz',
    }),
  );
  for (const id of ['glioma_001', 'glioma_002']) {
    symlinkSync(join(FG, 't1c.nii.gz'), join(images, `${id}_0000.nii.gz`));
    symlinkSync(join(FG, 'flair.nii.gz'), join(images, `${id}_0001.nii.gz`));
  }
  symlinkSync(join(FG, 'seg.nii.gz'), join(dataset, 'labelsTr', 'glioma_001.nii.gz'));
  const seg = await loadVolume(join(FG, 'seg.nii.gz'));
  writeNiftiFile(join(dataset, 'labelsTr', 'glioma_002.nii.gz'), {
    ...seg,
    data: new Uint8Array(seg.data.length),
  });
});

describe("nnU-Net's file per channel", () => {
  it('opens a case from any of its files, each channel as dataset.json names it', async () => {
    const c = await openCase(join(images, 'glioma_001_0001.nii.gz'));
    expect(c.sequences.flair?.source.path).toBe(join(images, 'glioma_001_0001.nii.gz'));
    expect(c.sequences.t1c?.source.path).toBe(join(images, 'glioma_001_0000.nii.gz'));
    const flair = await loadVolume(join(FG, 'flair.nii.gz'));
    expect(c.sequences.flair?.data.length).toBe(flair.data.length);
    expect(c.sequences.flair?.data[flair.data.length >> 1]).toBe(flair.data[flair.data.length >> 1]);
    expect(c.inventory.find((i) => i.sequence === 't1c')?.reason).toMatch(
      /channel 0 of case glioma_001 \(nnU-Net's file per channel\), named "T1ce" in .*dataset\.json/,
    );
    expect(c.inventory.some((i) => i.source.includes('glioma_002'))).toBe(false);
  });

  it('refuses a folder of several cases as one case, and says how to propose them', async () => {
    await expect(openCase(images)).rejects.toThrow(
      /holds 2 cases \(glioma_001, glioma_002\), not one: .*quorum propose-dataset/,
    );
  });

  it('lists each case once, finds labelsTr beside imagesTr, and leaves unnamed channel files alone', () => {
    expect(listDatasetCases(images)).toEqual([
      { name: 'glioma_001', path: join(images, 'glioma_001_0000.nii.gz') },
      { name: 'glioma_002', path: join(images, 'glioma_002_0000.nii.gz') },
    ]);
    expect(labelsFolder(images)).toBe(join(dataset, 'labelsTr'));
    const bare = join(root, 'bare', 'imagesTr');
    mkdirSync(bare, { recursive: true });
    symlinkSync(join(FG, 'flair.nii.gz'), join(bare, 'x_0000.nii.gz'));
    expect(listDatasetCases(bare)).toEqual([]);
  });

  it('an unnamed channel file is refused with what would name it, as a case and as a dataset', async () => {
    const bare = join(root, 'bare', 'imagesTr');
    await expect(openCase(bare)).rejects.toThrow(
      /x_0000\.nii\.gz: sequence not recognised .*; if it is channel 0 of case x \(nnU-Net's file per channel\), no dataset\.json beside it or one folder up names channel 0/,
    );
    const out = join(root, 'bare-out');
    const r = await cli('propose-dataset', bare, '--out', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /no case in this folder: .*holds 1 image file\(s\).*x_0000\.nii\.gz: if it is channel 0/,
    );
    expect(existsSync(out)).toBe(false); // no empty output folder
  });

  it('reads a BRATS_<n> case without dataset.json in the Decathlon order (FLAIR, T1w, t1gd, T2w)', async () => {
    const dir = join(root, 'Task001_BrainTumour', 'imagesTs');
    mkdirSync(dir, { recursive: true });
    for (const [i, s] of ['Flair', 'T1', 'T1c', 'T2'].entries())
      symlinkSync(join(PAT222, `${s}.nii.gz`), join(dir, `BRATS_485_000${i}.nii.gz`));
    const c = await openCase(join(dir, 'BRATS_485_0000.nii.gz'));
    expect(Object.fromEntries(Object.entries(c.sequences).map(([k, v]) => [k, v?.source.path]))).toEqual({
      flair: join(dir, 'BRATS_485_0000.nii.gz'),
      t1: join(dir, 'BRATS_485_0001.nii.gz'),
      t1c: join(dir, 'BRATS_485_0002.nii.gz'),
      t2: join(dir, 'BRATS_485_0003.nii.gz'),
    });
    expect(c.inventory[0].reason).toMatch(/Task01_BrainTumour order/);
    const info = await cli('info', join(dir, 'BRATS_485_0002.nii.gz'));
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout).channel).toMatchObject({ caseId: 'BRATS_485', index: 2, sequence: 't1c' });
  }, 60_000);

  it('propose-dataset proposes each case and scores it against labelsTr, as quorum evaluate does', async () => {
    const out = join(root, 'out');
    const r = await cli(
      'propose-dataset',
      images,
      '--out',
      out,
      '--members',
      '2',
      '--steps',
      '2',
      '--seed',
      '5',
    );
    expect(r.code, r.stderr).toBe(0);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    expect(last).toMatchObject({ cases: 2, done: 2, labelled: 2 });
    const [head, ...rows] = readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\n');
    const col = head.split(',').indexOf('label_dice');
    const dice = Object.fromEntries(rows.map((l) => [l.split(',')[0], Number(l.split(',')[col])]));
    const ev = await cli(
      'evaluate',
      '--pred',
      join(out, 'glioma_001', 'mask.nii.gz'),
      '--truth',
      join(dataset, 'labelsTr', 'glioma_001.nii.gz'),
    );
    expect(ev.code, ev.stderr).toBe(0);
    const evaluated = JSON.parse(ev.stdout).dice as number;
    expect(evaluated).toBeGreaterThan(0.5); // a proposal on a real lesion, not an empty mask
    expect(dice.glioma_001).toBeCloseTo(evaluated, 3);
    expect(dice.glioma_002).toBe(0); // the same images against an empty label
    expect(last.meanLabelDice).toBeCloseTo((dice.glioma_001 + dice.glioma_002) / 2, 3);
  }, 300_000);
});

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadVolume } from '../../core/src/node/load.ts';
import type { Volume } from '../../core/src/volume.ts';
import { quorum, quorumWith } from '../helpers/cli.ts';
import { linkDataset } from '../helpers/dataset.ts';
import { PAT3 } from '../helpers/paths.ts';

/**
 * The two export formats added through the registries (workers/src/exports/), as a user gets
 * them from the CLI: the probability map and the per-member masks of a real BraTS case, read
 * back with the project's NIfTI reader.
 */
const root = mkdtempSync(join(tmpdir(), 'quorum-export-formats-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const MEMBERS = 3;
const K = [75, 77];
const FAST = ['--slices', `${K[0]}:${K[1]}`, '--members', String(MEMBERS), '--steps', '3', '--seed', '1'];
const EXPORT = ['--export', 'nifti-probability,nifti-members'];

function expectSameGrid(v: Volume, ref: Volume): void {
  expect(v.dims).toEqual(ref.dims);
  for (let i = 0; i < 3; i++) {
    expect(v.spacing[i]).toBeCloseTo(ref.spacing[i], 5);
    expect(v.origin[i]).toBeCloseTo(ref.origin[i], 4);
  }
  for (let i = 0; i < 9; i++) expect(v.direction[i]).toBeCloseTo(ref.direction[i], 6);
}

async function readProposal(dir: string) {
  const [probability, mask, ...members] = await Promise.all([
    loadVolume(join(dir, 'probability.nii.gz')),
    loadVolume(join(dir, 'mask.nii.gz')),
    ...Array.from({ length: MEMBERS }, (_, m) => loadVolume(join(dir, 'members', `member-${m + 1}.nii.gz`))),
  ]);
  return { probability, mask, members };
}

describe('export formats from the registry: probability map and member masks', () => {
  const out = join(root, 'propose');

  it('quorum propose --export nifti-probability,nifti-members writes both, listed in report.json', () => {
    const r = quorumWith({ timeoutMs: 120_000 }, 'propose', PAT3, '--out', out, ...FAST, ...EXPORT);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.exports).toEqual(['nifti-mask', 'nifti-uncertainty', 'nifti-probability', 'nifti-members']);
    expect(report.outputs).toEqual([
      'mask.nii.gz',
      'uncertainty.nii.gz',
      'probability.nii.gz',
      ...Array.from({ length: MEMBERS }, (_, m) => `members/member-${m + 1}.nii.gz`),
    ]);
  });

  it('on the reference (FLAIR) grid; probability in 0..1, > 0.5 is the mask, and it is the members’ mean', async () => {
    const { probability, mask, members } = await readProposal(out);
    const flair = await loadVolume(join(PAT3, 'Flair_subtrMeanDivStd.nii.gz'));
    for (const v of [probability, mask, ...members]) expectSameGrid(v, flair);
    expect(probability.data).toBeInstanceOf(Float32Array);
    expect(mask.data).toBeInstanceOf(Uint8Array);
    for (const m of members) expect(m.data).toBeInstanceOf(Uint8Array);

    const [nx, ny] = flair.dims;
    const plane = nx * ny;
    const p = probability.data;
    let lesion = 0;
    let diffSum = 0;
    let unanimous = 0;
    let n = 0;
    let maxDiff = 0;
    for (let i = 0; i < p.length; i++) {
      if (!(p[i] >= 0 && p[i] <= 1)) throw new Error(`voxel ${i}: probability ${p[i]} outside 0..1`);
      // thresholding the probability map at 0.5 gives the exported mask, voxel for voxel
      if ((p[i] > 0.5 ? 1 : 0) !== mask.data[i])
        throw new Error(`voxel ${i}: p ${p[i]}, mask ${mask.data[i]}`);
      lesion += mask.data[i];
      let votes = 0;
      for (const m of members) votes += m.data[i];
      const vote = votes / MEMBERS;
      const k = Math.floor(i / plane);
      if (k < K[0] || k > K[1]) {
        // outside the proposed slices everything is 0
        if (p[i] !== 0 || votes !== 0) throw new Error(`voxel ${i} outside the proposed slices is not 0`);
        continue;
      }
      n++;
      // Each member's mask is its own probability > 0.5, the map the mean of those probabilities:
      // equal where the members are sure (0 or 1), within 0.5 where one sits near its threshold.
      diffSum += Math.abs(p[i] - vote);
      maxDiff = Math.max(maxDiff, Math.abs(p[i] - vote));
      if (votes === 0 || votes === MEMBERS) {
        unanimous++;
        if (mask.data[i] !== votes / MEMBERS) throw new Error(`voxel ${i}: unanimous members, other mask`);
      }
    }
    expect(lesion).toBeGreaterThan(100); // the tumour is on these slices
    expect(maxDiff).toBeLessThan(0.5);
    expect(diffSum / n).toBeLessThan(0.02);
    expect(unanimous / n).toBeGreaterThan(0.95);
  });

  it('propose-dataset --export writes them per case, and a complete case without them is redone', () => {
    const ds = linkDataset(join(root, 'dataset'), false);
    const dsOut = join(root, 'dataset-out');
    const plain = quorumWith({ timeoutMs: 180_000 }, 'propose-dataset', ds, '--out', dsOut, ...FAST);
    expect(plain.code, plain.stderr).toBe(0);
    const r = quorumWith({ timeoutMs: 180_000 }, 'propose-dataset', ds, '--out', dsOut, ...FAST, ...EXPORT);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1) as string)).toMatchObject({ done: 2, skipped: 0 });
    for (const c of ['pat3', 'pat4']) {
      const report = JSON.parse(readFileSync(join(dsOut, c, 'report.json'), 'utf8'));
      expect(report.exports).toContain('nifti-probability');
      expect(report.outputs).toContain(`members/member-${MEMBERS}.nii.gz`);
    }
  }, 360_000);

  it('an unknown or proposal-less format is refused before anything runs, naming the allowed ones', () => {
    for (const format of ['nifti-probabilty', 'report-csv']) {
      const r = quorum('propose', PAT3, '--out', join(root, 'bad'), '--export', format);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/--export must be one of .*nifti-probability, nifti-members/);
      expect(existsSync(join(root, 'bad'))).toBe(false);
    }
  });
});

import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dice } from '../../core/src/metrics.ts';
import { encodeNifti } from '../../core/src/nifti/write.ts';
import { openCase } from '../../core/src/node/case.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import type { Volume } from '../../core/src/volume.ts';
import { quorumAsync as cli } from '../helpers/cli.ts';
import { DATA } from '../helpers/paths.ts';

// The Medical Segmentation Decathlon (Task01_BrainTumour) stores a case's sequences
// as the volumes of one 4-D NIfTI file; these are built from a real BraTS case's four files.
const PAT222 = resolve(DATA, 'brats-4seq', 'brats2015-tcia-pat222');
const FILES = { flair: 'Flair.nii.gz', t1: 'T1.nii.gz', t1c: 'T1c.nii.gz', t2: 'T2.nii.gz' } as const;
type Seq = keyof typeof FILES;
const FAST = ['--slices', '100:101', '--members', '2', '--steps', '2', '--seed', '3'];

const root = mkdtempSync(join(tmpdir(), 'quorum-4d-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const vols = {} as Record<Seq, Volume>;

/** Whether a volume's voxels are `s`'s file's, value for value (toEqual is too slow for 9 M voxels). */
function same(v: Volume | undefined, s: Seq): boolean {
  const a = v?.data;
  const b = vols[s].data;
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== Math.fround(b[i])) return false;
  return true;
}

/** A float32 .nii holding `order`'s volumes one after another (dim[0] = 4, dim[4] = count). */
function write4d(path: string, order: Seq[]): void {
  const first = vols[order[0]];
  const n = first.data.length;
  const header = encodeNifti({ ...first, data: Float32Array.from(first.data) }, { gzip: false });
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const offset = view.getFloat32(108, true); // vox_offset
  view.setInt16(40, 4, true); // dim[0]
  view.setInt16(48, order.length, true); // dim[4]
  const out = new Uint8Array(offset + order.length * n * 4);
  out.set(header.subarray(0, offset));
  order.forEach((s, i) => {
    out.set(new Uint8Array(Float32Array.from(vols[s].data).buffer), offset + i * n * 4);
  });
  writeFileSync(path, out);
}

const decathlon = join(root, 'Task01_BrainTumour', 'imagesTr');
const named = join(root, 'nnunet', 'imagesTr');
beforeAll(async () => {
  for (const s of Object.keys(FILES) as Seq[]) vols[s] = await loadVolume(join(PAT222, FILES[s]));
  mkdirSync(decathlon, { recursive: true });
  write4d(join(decathlon, 'BRATS_001.nii'), ['flair', 't1', 't1c', 't2']);
  // another order, named by the dataset's description one folder up (nnU-Net v2's key)
  mkdirSync(named, { recursive: true });
  write4d(join(named, 'case_7.nii'), ['t2', 't1c', 'flair', 't1']);
  const channel_names = { 0: 'T2', 1: 'T1ce', 2: 'Flair', 3: 'T1' };
  writeFileSync(join(root, 'nnunet', 'dataset.json'), JSON.stringify({ channel_names }));
  // the same case as four 3-D files
  mkdirSync(join(root, 'files'));
  for (const s of Object.keys(FILES) as Seq[])
    symlinkSync(join(PAT222, FILES[s]), join(root, 'files', FILES[s]));
}, 60_000);

describe('a 4-D file of named sequences (a Decathlon layout)', () => {
  it('opens a BRATS_<n> file in Task01 order, each sequence its own volume', async () => {
    const c = await openCase(join(decathlon, 'BRATS_001.nii'));
    for (const s of Object.keys(FILES) as Seq[]) {
      expect(same(c.sequences[s], s), s).toBe(true);
      expect(c.inventory.find((i) => i.sequence === s)?.reason).toMatch(/Task01_BrainTumour order/);
    }
  });

  it('takes the names from dataset.json over the order', async () => {
    const c = await openCase(join(named, 'case_7.nii'));
    expect(same(c.sequences.flair, 'flair')).toBe(true);
    expect(same(c.sequences.t1c, 't1c')).toBe(true);
    expect(same(c.sequences.t1c, 'flair')).toBe(false);
    expect(c.inventory.find((i) => i.sequence === 'flair')?.reason).toMatch(
      /volume 2 of 4, named "Flair" in .*dataset\.json/,
    );
  });

  it('quorum info lists the sequence of each volume', async () => {
    const r = await cli('info', join(decathlon, 'BRATS_001.nii'));
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.channels.map((c: { sequence: string }) => c.sequence)).toEqual(['flair', 't1', 't1c', 't2']);
    expect(info.warnings).toContain('4-D file with 4 volumes: volume 0 loaded');
  });

  it('leaves an unnamed 4-D file to the old rule: first volume, a warning, not guessed', async () => {
    mkdirSync(join(root, 'unnamed'));
    write4d(join(root, 'unnamed', 'flair.nii'), ['flair', 't1c']);
    const c = await openCase(join(root, 'unnamed'));
    expect(Object.keys(c.sequences)).toEqual(['flair']);
    expect(c.sequences.flair?.source.warnings).toContain('4-D file with 2 volumes: volume 0 loaded');
  });

  it('propose-dataset treats each file of an imagesTr folder as a case, proposing as the 3-D files do', async () => {
    const out = join(root, 'out');
    const r = await cli('propose-dataset', decathlon, '--out', out, ...FAST);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1) as string)).toMatchObject({ cases: 1, done: 1 });
    const ref = await cli('propose', join(root, 'files'), '--out', join(root, 'out-files'), ...FAST);
    expect(ref.code, ref.stderr).toBe(0);
    const a = await loadVolume(join(out, 'BRATS_001', 'mask.nii.gz'));
    const b = await loadVolume(join(root, 'out-files', 'mask.nii.gz'));
    let lesion = 0;
    for (const v of b.data) lesion += v ? 1 : 0;
    expect(lesion).toBeGreaterThan(1000); // pat222's lesion is ~40 cm² on slices 100-101
    expect(dice(a.data, b.data)).toBeGreaterThan(0.99);
    const report = JSON.parse(readFileSync(join(out, 'BRATS_001', 'report.json'), 'utf8'));
    expect(JSON.stringify(report)).toMatch(/BRATS_001\.nii/);
  }, 240_000);
});

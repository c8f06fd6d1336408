import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QuorumError } from '../../core/src/errors.ts';
import { affineFromVolume } from '../../core/src/geometry.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { DATA, PYTHON } from '../helpers/paths.ts';

const NIFTI_DIRS = ['nibabel', 'niivue', 'nifti-reader-js'].map((d) => join(DATA, 'nifti', d));
// Every image-like file in the NIfTI test folders; .img files are opened through their .hdr.
const FILES = NIFTI_DIRS.flatMap((d) =>
  readdirSync(d)
    .filter((f) => /\.(nii|hdr)(\.gz)?$/i.test(f))
    .map((f) => join(d, f)),
);

type Ref = {
  shape?: number[];
  affine?: number[];
  sum?: number;
  min?: number;
  max?: number;
  nonFinite?: number;
  v0?: number | null;
  error?: string;
};
const reference: Record<string, Ref> = JSON.parse(
  execFileSync(PYTHON, [join(__dirname, '..', 'helpers', 'nibabel_ref.py'), ...FILES], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  }),
);

describe('every NIfTI test file loads as nibabel reads it, or is refused clearly', () => {
  it('covers the test data', () => expect(FILES.length).toBeGreaterThan(25));

  for (const file of FILES) {
    const name = file.slice(DATA.length + 1);
    it(name, async () => {
      const ref = reference[file];
      let vol: Awaited<ReturnType<typeof loadVolume>> | undefined;
      let err: unknown;
      try {
        vol = await loadVolume(file);
      } catch (e) {
        err = e;
      }
      if (err) {
        // refusals must be typed and name the file
        expect(err).toBeInstanceOf(QuorumError);
        expect((err as Error).message).toContain(file);
        // ...and we only refuse what nibabel cannot give us as a scalar volume, or a pair with no .img
        if (!ref.error) expect((err as QuorumError).code).toBe('not-found');
        return;
      }
      expect(ref.error, `nibabel refused ${name} but we loaded it`).toBeUndefined();
      expect(vol!.dims).toEqual(ref.shape);
      const aff = affineFromVolume(vol!);
      for (const [i, v] of ref.affine!.entries()) expect(aff[i]).toBeCloseTo(v, 5);
      let sum = 0;
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      let nonFinite = 0;
      for (const x of vol!.data) {
        if (!Number.isFinite(x)) {
          nonFinite++;
          continue;
        }
        sum += x;
        if (x < min) min = x;
        if (x > max) max = x;
      }
      // scaled data is float32 here, float64 in nibabel: compare to float32 precision
      const close = (a: number, b: number, what: string) =>
        expect(Math.abs(a - b), `${what}: ${a} vs nibabel ${b}`).toBeLessThanOrEqual(
          1e-4 + 1e-6 * Math.abs(b),
        );
      close(sum, ref.sum!, 'sum');
      close(min, ref.min!, 'min');
      close(max, ref.max!, 'max');
      expect(nonFinite).toBe(ref.nonFinite);
      if (ref.v0 !== null) close(vol!.data[Math.floor(vol!.data.length / 3)], ref.v0!, 'voxel');
    });
  }

  it('refuses not-nifti.nii, naming the file and the problem', async () => {
    const f = join(DATA, 'nifti', 'nifti-reader-js', 'not-nifti.nii');
    await expect(loadVolume(f)).rejects.toThrow(`${f}: not a NIfTI-1/NIfTI-2 file`);
  });

  it('says where it guessed: 4-D files load volume 0 with a warning', async () => {
    const v = await loadVolume(join(DATA, 'nifti', 'nibabel', 'functional.nii'));
    expect(v.source.warnings?.join()).toMatch(/4-D file with 20 volumes: volume 0 loaded/);
  });
});

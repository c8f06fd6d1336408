import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNifti } from '../../core/src/nifti/read.ts';
import { nativeInflateUpTo } from '../../core/src/node/gzip.ts';
import { loadVolume, writeNiftiFile } from '../../core/src/node/load.ts';
import { SAMPLE_CASE, scratchDir } from '../../workers/src/host/service.ts';
import { DATA } from '../helpers/paths.ts';

/**
 * Node's zlib, lent to the pure NIfTI reader and writer (core/src/node/gzip.ts), must change
 * nothing but the time: the same voxels as fflate on every .nii.gz of the test data (4-D ones
 * included, which it hands back to fflate's bounded read), the same messages on damaged files.
 */
const GZ = [
  ...['nibabel', 'niivue', 'nifti-reader-js'].flatMap((d) =>
    readdirSync(join(DATA, 'nifti', d))
      .filter((f) => f.endsWith('.nii.gz'))
      .map((f) => join(DATA, 'nifti', d, f)),
  ),
  join(SAMPLE_CASE, 'flair.nii.gz'),
];

/** What a read gave, its voxels as bytes (toEqual on 9 million numbers takes minutes). */
function outcome(read: () => { dims: number[]; data: ArrayLike<number> & ArrayBufferView }) {
  try {
    const v = read();
    const d = v.data;
    return {
      dims: v.dims,
      type: d.constructor.name,
      bytes: Buffer.from(d.buffer, d.byteOffset, d.byteLength),
    };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

describe('NIfTI .gz through Node zlib', () => {
  it('reads every .nii.gz of the test data as fflate does, voxel for voxel', () => {
    expect(GZ.length).toBeGreaterThan(15);
    let fourD = 0;
    for (const f of GZ) {
      const bytes = readFileSync(f);
      const viaFflate = outcome(() => readNifti(bytes, f));
      const viaZlib = outcome(() => readNifti(bytes, f, undefined, nativeInflateUpTo));
      expect(viaZlib.error, f).toBe(viaFflate.error);
      expect(viaZlib.dims, f).toEqual(viaFflate.dims);
      expect(viaZlib.type, f).toBe(viaFflate.type);
      expect(viaZlib.bytes?.equals(viaFflate.bytes!) ?? true, f).toBe(true);
      if (f.endsWith('example4d.nii.gz')) {
        // more data than volume 0: zlib declines, fflate's bounded read gives volume 0
        expect(nativeInflateUpTo(bytes, 352 + 128 * 96 * 24 * 2)).toBeUndefined();
        fourD++;
      }
    }
    expect(fourD).toBe(1);
    // and it is used: a 3-D volume comes whole from zlib
    const need = 352 + 240 * 240 * 155 * 4;
    expect(nativeInflateUpTo(readFileSync(join(SAMPLE_CASE, 'flair.nii.gz')), need)?.length).toBe(need);
  });

  it('a cut-short or damaged file: the same refusal, naming the file', async () => {
    const dir = scratchDir('quorum-gzip-test');
    const whole = readFileSync(join(SAMPLE_CASE, 'flair.nii.gz'));
    const cut = join(dir, 'cut.nii.gz');
    writeFileSync(cut, whole.subarray(0, whole.length >> 1));
    const flipped = join(dir, 'flipped.nii.gz');
    const bad = Buffer.from(whole);
    for (let i = 5000; i < 5100; i++) bad[i] ^= 0xff;
    writeFileSync(flipped, bad);
    for (const [f, said] of [
      [cut, /file is truncated/],
      [flipped, /file is truncated|compressed data is damaged/],
    ] as const) {
      const expected = outcome(() => readNifti(readFileSync(f), f));
      expect(expected.error).toMatch(said);
      await expect(loadVolume(f)).rejects.toThrow(expected.error);
    }
  });

  it('writes .nii.gz that fflate reads back exactly', async () => {
    const v = await loadVolume(join(SAMPLE_CASE, 'flair.nii.gz'));
    const out = join(scratchDir('quorum-gzip-test'), 'written.nii.gz');
    writeNiftiFile(out, v);
    const back = outcome(() => readNifti(readFileSync(out), out));
    const orig = outcome(() => v);
    expect(back.dims).toEqual(orig.dims);
    expect(back.type).toBe(orig.type);
    expect(back.bytes!.equals(orig.bytes!)).toBe(true);
  });
});

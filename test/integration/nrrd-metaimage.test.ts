import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCase } from '../../core/src/node/case.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import type { Volume } from '../../core/src/volume.ts';
import { proposeBoth } from '../helpers/cli.ts';
import { DATA, PYTHON } from '../helpers/paths.ts';

// 3D Slicer saves volumes as NRRD, ITK tools as MetaImage. niivue's FLAIR.nrrd is the same scan as
// its FLAIR.nii.gz; the other files are a held-out patient's real NIfTI written by nibabel + numpy
// (an independent writer: its own RAS -> LPS arithmetic) in each layout a user may bring.
const NIIVUE = join(DATA, 'nifti', 'niivue');
const FG = join(DATA, 'tcga-lgg', 'TCGA_FG_6689_20020326');
const dir = mkdtempSync(join(tmpdir(), 'quorum-nrrd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const WRITE = `
import sys, gzip, zlib, numpy as np, nibabel as nib
src, t1c_src, out = sys.argv[1:4]
img = nib.load(src); a = np.asanyarray(img.dataobj); t1c = np.asanyarray(nib.load(t1c_src).dataobj).astype(a.dtype)
A = img.affine; L = np.diag([-1, -1, 1]) @ A[:3]            # LPS rows
vec = lambda v: '(' + ','.join(repr(float(x)) for x in v) + ')'
cols = lambda M: ' '.join(vec(M[:3, c]) for c in range(3))
fort = lambda x: np.asfortranarray(x).tobytes(order='F')
met = {np.dtype('uint8'): 'MET_UCHAR', np.dtype('int16'): 'MET_SHORT', np.dtype('float32'): 'MET_FLOAT', np.dtype('uint16'): 'MET_USHORT', np.dtype('float64'): 'MET_DOUBLE'}[a.dtype]
nrrd = {np.dtype('uint8'): 'uchar', np.dtype('int16'): 'short', np.dtype('float32'): 'float', np.dtype('uint16'): 'ushort', np.dtype('float64'): 'double'}[a.dtype]
sp = [float(np.linalg.norm(L[:3, c])) for c in range(3)]
unit = ' '.join(repr(float(x)) for c in range(3) for x in L[:3, c] / sp[c])
def mhead(extra, datafile):
    return ('ObjectType = Image\\nNDims = 3\\n' + extra + 'TransformMatrix = ' + unit + '\\nOffset = ' + ' '.join(repr(float(x)) for x in L[:3, 3]) +
            '\\nAnatomicalOrientation = RAI\\nElementSpacing = ' + ' '.join(map(repr, sp)) + '\\nDimSize = ' + ' '.join(map(str, a.shape)) +
            '\\nElementType = ' + met + '\\nElementDataFile = ' + datafile + '\\n').encode()
z = zlib.compress(fort(a))
open(out + '/flair.mha', 'wb').write(mhead('BinaryData = True\\nBinaryDataByteOrderMSB = False\\nCompressedData = True\\nCompressedDataSize = %d\\n' % len(z), 'LOCAL') + z)
open(out + '/flair.mhd', 'wb').write(mhead('BinaryData = True\\nBinaryDataByteOrderMSB = True\\nCompressedData = False\\n', 'flair.raw'))
open(out + '/flair.raw', 'wb').write(fort(a.astype(a.dtype.newbyteorder('>'))))
for k in range(a.shape[2]): open(out + '/sl_%03d.raw' % k, 'wb').write(fort(a[:, :, k]))   # one file per slice, as ITK writes a series
lst = 'LIST 2D\\n' + '\\n'.join('sl_%03d.raw' % k for k in range(a.shape[2]))
open(out + '/flair_list.mhd', 'wb').write(mhead('BinaryData = True\\nBinaryDataByteOrderMSB = False\\n', lst))
open(out + '/flair_pattern.mhd', 'wb').write(mhead('BinaryData = True\\nBinaryDataByteOrderMSB = False\\n', 'sl_%%03d.raw 0 %d 1' % (a.shape[2] - 1)))
zt = zlib.compress(fort(t1c))
open(out + '/t1c.mha', 'wb').write(mhead('BinaryData = True\\nBinaryDataByteOrderMSB = False\\nCompressedData = True\\nCompressedDataSize = %d\\n' % len(zt), 'LOCAL') + zt)
def nhead(space, M, o, enc, extra=''):
    return ('NRRD0004\\n# written by the test\\ntype: ' + nrrd + '\\ndimension: 3\\nspace: ' + space + '\\nsizes: ' + ' '.join(map(str, a.shape)) +
            '\\nspace directions: ' + cols(M) + '\\nkinds: domain domain domain\\nendian: little\\nencoding: ' + enc + '\\nspace origin: ' + vec(o) + '\\n' + extra).encode()
open(out + '/flair_ras.nrrd', 'wb').write(nhead('right-anterior-superior', A, A[:3, 3], 'gzip') + b'\\n' + gzip.compress(fort(a)))
open(out + '/flair.nhdr', 'wb').write(nhead('left-posterior-superior', L, L[:3, 3], 'gzip', 'data file: flair.raw.gz\\n'))
open(out + '/flair.raw.gz', 'wb').write(gzip.compress(fort(a)))
pair = np.stack([a, t1c])                                    # a list axis first: [flair, t1c] per voxel
open(out + '/pair.nrrd', 'wb').write(('NRRD0004\\ntype: ' + nrrd + '\\ndimension: 4\\nspace: left-posterior-superior\\nsizes: 2 ' + ' '.join(map(str, a.shape)) +
    '\\nspace directions: none ' + cols(L) + '\\nkinds: list domain domain domain\\nendian: little\\nencoding: raw\\nspace origin: ' + vec(L[:3, 3]) + '\\n\\n').encode() + fort(pair))
open(out + '/bz.nrrd', 'wb').write(nhead('left-posterior-superior', L, L[:3, 3], 'bzip2') + b'\\nBZh9')
`;

/** Same grid (1e-4 mm) and the same voxel values. */
function expectSame(a: Volume, b: Volume): void {
  expect(a.dims).toEqual(b.dims);
  for (const k of ['spacing', 'origin', 'direction'] as const)
    for (const [i, x] of a[k].entries()) expect(x, `${k}[${i}]`).toBeCloseTo(b[k][i], 4);
  expect(a.data.length).toBe(b.data.length);
  let differ = 0;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) differ++;
  expect(differ).toBe(0);
}

let flair: Volume;
beforeAll(async () => {
  execFileSync(PYTHON, ['-c', WRITE, join(FG, 'flair.nii.gz'), join(FG, 't1c.nii.gz'), dir]);
  flair = await loadVolume(join(FG, 'flair.nii.gz'));
}, 60_000);

describe('NRRD and MetaImage volumes', () => {
  it("niivue's FLAIR.nrrd (3D Slicer's format, an oblique scan) equals its FLAIR.nii.gz", async () => {
    const a = await loadVolume(join(NIIVUE, 'FLAIR.nrrd'));
    expectSame(a, await loadVolume(join(NIIVUE, 'FLAIR.nii.gz')));
    expect(a.source.format).toBe('nrrd');
    expect(a.direction[4]).toBeLessThan(-0.9); // not an identity header: the rotation was read
  });

  it('every layout of a real scan reads back as its NIfTI: voxels, spacing, origin and axes', async () => {
    for (const f of [
      'flair.mha',
      'flair.mhd',
      'flair_list.mhd',
      'flair_pattern.mhd',
      'flair_ras.nrrd',
      'flair.nhdr',
    ]) {
      const v = await loadVolume(join(dir, f));
      expectSame(v, flair);
      expect(v.source.warnings, f).toEqual([]);
    }
  });

  it('a 4-D NRRD with the list axis first: each volume is one of the sequences, said in a warning', async () => {
    const first = await loadVolume(join(dir, 'pair.nrrd'));
    expectSame(first, flair);
    expect(first.source.warnings).toContain('4-D file with 2 volumes: volume 0 loaded');
    const second = await loadVolume(join(dir, 'pair.nrrd'), { volume: 1 });
    expectSame(second, await loadVolume(join(dir, 't1c.mha')));
  });

  it('bad files are refused with the file and the problem', async () => {
    await expect(loadVolume(join(dir, 'bz.nrrd'))).rejects.toThrow(
      /bz\.nrrd: bzip2-compressed NRRD is not read/,
    );
    const mha = readFileSync(join(dir, 'flair.mha'));
    writeFileSync(join(dir, 'cut.mha'), mha.subarray(0, mha.length >> 1));
    await expect(loadVolume(join(dir, 'cut.mha'))).rejects.toThrow(/cut\.mha: file is truncated/);
    // a slice file missing from a LIST, and a pattern without its numbers
    const list = readFileSync(join(dir, 'flair_list.mhd'), 'latin1');
    writeFileSync(join(dir, 'gap.mhd'), list.replace('sl_002.raw', 'sl_999.raw'), 'latin1');
    await expect(loadVolume(join(dir, 'gap.mhd'))).rejects.toThrow(/sl_999\.raw: no such file/);
    writeFileSync(join(dir, 'pattern.mhd'), list.replace(/LIST 2D[\s\S]*$/, 'sl_%03d.raw\n'), 'latin1');
    await expect(loadVolume(join(dir, 'pattern.mhd'))).rejects.toThrow(
      /pattern\.mhd: ElementDataFile "sl_%03d\.raw": a file pattern needs its first and last number/,
    );
    mkdirSync(join(dir, 'lonely'));
    symlinkSync(join(dir, 'flair.nhdr'), join(dir, 'lonely', 'flair.nhdr'));
    await expect(loadVolume(join(dir, 'lonely', 'flair.nhdr'))).rejects.toThrow(
      /flair\.raw\.gz: no such file/,
    );
  });

  it('a case of .nrrd and .mha files proposes as its NIfTI files do', async () => {
    const asSaved = join(dir, 'case-slicer');
    mkdirSync(asSaved);
    symlinkSync(join(dir, 'flair_ras.nrrd'), join(asSaved, 'flair.nrrd'));
    symlinkSync(join(dir, 't1c.mha'), join(asSaved, 't1c.mha'));
    const c = await openCase(asSaved);
    expect(Object.keys(c.sequences).sort()).toEqual(['flair', 't1c']);
    const { lesion, dice } = await proposeBoth(dir, { nrrd: asSaved, nifti: FG }, [
      '--slices',
      '28:29',
      '--members',
      '2',
      '--steps',
      '2',
      '--seed',
      '4',
    ]);
    expect(lesion).toBeGreaterThan(100);
    expect(dice).toBe(1);
  }, 240_000);
});

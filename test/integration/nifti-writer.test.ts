/**
 * The NIfTI writer on the real BraTS 2015 volumes: bit-exact round trips through .nii.gz, masks
 * and float maps that nibabel reads back on the reference grid, atomic writes, and never over a
 * source image.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { QuorumError } from '../../core/src/errors.ts';
import { affineFromVolume } from '../../core/src/geometry.ts';
import { WRITTEN_DIR, writeFileAtomic } from '../../core/src/node/atomic.ts';
import { loadDicomSeries } from '../../core/src/node/dicom-fs.ts';
import { loadVolume, writeNiftiFile } from '../../core/src/node/load.ts';
import type { Volume } from '../../core/src/volume.ts';
import { BRATS, DATA, PYTHON } from '../helpers/paths.ts';

// writeSync is wrapped (not replaced) so one test can make a write fail half-way; open, fsync and
// rename are wrapped to see the order of a write's steps
vi.mock('node:fs', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:fs')>();
  return {
    ...orig,
    writeSync: vi.fn(orig.writeSync),
    openSync: vi.fn(orig.openSync),
    fsyncSync: vi.fn(orig.fsyncSync),
    renameSync: vi.fn(orig.renameSync),
  };
});

const SUBJECTS = ['train', 'validation'].flatMap((split) =>
  readdirSync(join(BRATS, split))
    .sort()
    .map((s) => join(BRATS, split, s)),
);
const VOLUMES = ['Flair_subtrMeanDivStd.nii.gz', 'T1c_subtrMeanDivStd.nii.gz', 'OTMultiClass.nii.gz'];

const tmp = mkdtempSync(join(tmpdir(), 'quorum-writer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function sameBits(a: Volume['data'], b: Volume['data']): boolean {
  if (a.constructor !== b.constructor || a.length !== b.length) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return Buffer.compare(x, y) === 0;
}

describe('BraTS volumes round-trip through the writer bit-exactly (.nii.gz)', () => {
  it('has the 4 subjects', () => expect(SUBJECTS).toHaveLength(4));

  for (const subject of SUBJECTS)
    for (const name of VOLUMES) {
      it(`${relative(BRATS, subject)}/${name}`, async () => {
        const src = join(subject, name);
        const a = await loadVolume(src);
        const out = join(tmp, `${relative(BRATS, subject).replace(/[\\/]/g, '_')}_${name}`);
        writeNiftiFile(out, a, { sources: [src] });
        const b = await loadVolume(out);
        expect(b.dims).toEqual(a.dims);
        expect(b.dims).toEqual([240, 240, 155]);
        // stored as float32, the geometry is exact for these integer-mm grids
        expect(affineFromVolume(b)).toEqual(affineFromVolume(a));
        expect(b.source.datatype).toBe('float32');
        expect(sameBits(a.data, b.data)).toBe(true);
        // the transform codes of the source are kept
        expect(b.source.nifti?.sformCode).toBe(a.source.nifti?.sformCode || a.source.nifti?.qformCode);
      });
    }
});

describe('masks and float maps on a reference grid are read back by nibabel', () => {
  /** nibabel: affine (best), sform and qform, codes, dtype; the stored array as raw bytes (Fortran order). */
  function nibabelRead(files: string[]) {
    const script = `
import json, sys, nibabel as nib, numpy as np
out = {}
for f in sys.argv[1:]:
    im = nib.load(f)
    a = np.asanyarray(im.dataobj)
    a.ravel(order='F').tofile(f + '.raw')
    q, qc = im.get_qform(coded=True)
    s, sc = im.get_sform(coded=True)
    out[f] = {'affine': im.affine.ravel().tolist(), 'dtype': str(a.dtype), 'shape': list(a.shape),
              'qform': None if q is None else q.ravel().tolist(), 'qcode': int(qc),
              'sform': None if s is None else s.ravel().tolist(), 'scode': int(sc)}
print(json.dumps(out))`;
    return JSON.parse(execFileSync(PYTHON, ['-c', script, ...files], { encoding: 'utf8' })) as Record<
      string,
      {
        affine: number[];
        dtype: string;
        shape: number[];
        qform: number[] | null;
        qcode: number;
        sform: number[] | null;
        scode: number;
      }
    >;
  }

  it('uint8 mask and float32 map on a BraTS grid and on an oblique DICOM grid', async () => {
    const refs: { name: string; vol: Volume }[] = [
      { name: 'brats', vol: await loadVolume(join(SUBJECTS[0], 'Flair_subtrMeanDivStd.nii.gz')) },
      // oblique (tilted) grid from DICOM: qform quaternion and sform both exercised
      { name: 'oblique', vol: await loadDicomSeries([join(DATA, 'dicom', 'dcm_qa_ts', 'In', '1.dcm')]) },
    ];
    const written: { file: string; ref: Volume; data: Volume['data'] }[] = [];
    for (const { name, vol } of refs) {
      const n = vol.data.length;
      // a mask from the image (bright voxels) and a float map with fractional and negative values
      let max = 0;
      for (const x of vol.data) max = Math.max(max, x);
      const mask = new Uint8Array(n);
      const map = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        mask[i] = vol.data[i] > max / 3 ? 1 : 0;
        map[i] = Math.fround((vol.data[i] / max) * 1.7 - 0.35);
      }
      for (const [kind, data] of [
        ['mask', mask],
        ['map', map],
      ] as const) {
        const file = join(tmp, `${name}-${kind}.nii.gz`);
        writeNiftiFile(file, { ...vol, data }, { datatype: kind === 'mask' ? 'uint8' : 'float32' });
        written.push({ file, ref: vol, data });
      }
    }
    const nib = nibabelRead(written.map((w) => w.file));
    for (const { file, ref, data } of written) {
      const r = nib[file];
      expect(r.shape).toEqual(ref.dims);
      expect(r.dtype).toBe(data instanceof Uint8Array ? 'uint8' : 'float32');
      const aff = affineFromVolume(ref);
      for (const [i, v] of r.affine.entries())
        expect(Math.abs(v - aff[i]), `${file} affine[${i}]`).toBeLessThan(1e-5);
      expect(r.scode).toBeGreaterThan(0);
      // orthogonal grids carry the same transform in the qform (quaternion) as in the sform
      expect(r.qcode).toBeGreaterThan(0);
      for (const [i, v] of r.qform!.entries())
        expect(Math.abs(v - aff[i]), `${file} qform[${i}]`).toBeLessThan(1e-5);
      const raw = readFileSync(`${file}.raw`);
      expect(Buffer.compare(raw, Buffer.from(data.buffer, data.byteOffset, data.byteLength))).toBe(0);
    }
  });
});

describe('writes are atomic and never over a source image', () => {
  const src = join(tmp, 'source.nii.gz');

  it('replaces the file by rename (new inode), leaving no temp files', async () => {
    const vol = await loadVolume(join(SUBJECTS[0], 'OTMultiClass.nii.gz'));
    const out = join(tmp, 'atomic', 'label.nii.gz');
    fs.mkdirSync(join(tmp, 'atomic'));
    writeNiftiFile(out, vol, { datatype: 'uint8' });
    const before = statSync(out).ino;
    // Replacing is allowed only for a file Quorum wrote, and only when asked (core/src/node/atomic.ts).
    expect(() => writeNiftiFile(out, vol, { datatype: 'uint8' })).toThrow(/already exists/);
    writeNiftiFile(out, vol, { datatype: 'uint8', replace: 'own' });
    expect(statSync(out).ino).not.toBe(before);
    expect(readdirSync(join(tmp, 'atomic')).sort()).toEqual([WRITTEN_DIR, 'label.nii.gz']);
    expect((await loadVolume(out)).dims).toEqual([240, 240, 155]);
  });

  it('fsyncs the file, renames it, then fsyncs the folder (the rename survives a power cut)', () => {
    const dir = join(tmp, 'durable');
    fs.mkdirSync(dir);
    const open = vi.mocked(fs.openSync);
    const fsync = vi.mocked(fs.fsyncSync);
    const rename = vi.mocked(fs.renameSync);
    for (const m of [open, fsync, rename]) m.mockClear();
    writeFileAtomic(join(dir, 'state.json'), '{}');
    // fd numbers are reused once closed: each fsync is matched to the open before it
    const fsyncAfterOpen = (pred: (path: string) => boolean) => {
      const i = open.mock.calls.findIndex(([p]) => pred(String(p)));
      expect(i).toBeGreaterThanOrEqual(0);
      const fd = open.mock.results[i].value as number;
      const opened = open.mock.invocationCallOrder[i];
      return fsync.mock.invocationCallOrder.find((o, j) => o > opened && fsync.mock.calls[j][0] === fd) ?? -1;
    };
    const renamed = rename.mock.invocationCallOrder[0];
    const fileSynced = fsyncAfterOpen((p) => p.endsWith('.tmp'));
    expect(fileSynced).toBeGreaterThan(0);
    expect(fileSynced).toBeLessThan(renamed);
    expect(fsyncAfterOpen((p) => p === dir)).toBeGreaterThan(renamed);
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe('{}');
  });

  it('a write failing half-way leaves the old file intact and removes its temp file', () => {
    const dir = join(tmp, 'fail');
    fs.mkdirSync(dir);
    const target = join(dir, 'out.bin');
    writeFileSync(target, 'old contents');
    const ws = vi.mocked(fs.writeSync);
    let calls = 0;
    // the first write gets 4 KiB onto the disk, the next one fails as a full disk would
    ws.mockImplementation(((fd: number, buf: Uint8Array, off: number, len: number) => {
      if (++calls > 1) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      return realWriteSync(fd, buf, off, Math.min(len, 4096));
    }) as never);
    try {
      expect(() => writeFileAtomic(target, new Uint8Array(1 << 20).fill(7))).toThrow(/ENOSPC/);
    } finally {
      ws.mockReset();
    }
    expect(readFileSync(target, 'utf8')).toBe('old contents');
    expect(readdirSync(dir)).toEqual(['out.bin']);
  });

  it('refuses to write over a source image, also through another path to it', async () => {
    fs.copyFileSync(join(SUBJECTS[0], 'brainmask.nii.gz'), src);
    const vol = await loadVolume(src);
    const bytes = readFileSync(src);
    const alias = join(tmp, 'alias.nii.gz');
    symlinkSync(src, alias);
    for (const target of [src, alias, join(tmp, '.', 'source.nii.gz')]) {
      let err: unknown;
      try {
        writeNiftiFile(target, vol, { sources: [src] });
      } catch (e) {
        err = e;
      }
      expect(err, target).toBeInstanceOf(QuorumError);
      expect((err as QuorumError).code).toBe('bad-argument');
      expect((err as Error).message).toMatch(/refusing to overwrite the input image/);
    }
    expect(Buffer.compare(readFileSync(src), bytes)).toBe(0);
  });
});

const realWriteSync = (await vi.importActual<typeof import('node:fs')>('node:fs')).writeSync as (
  fd: number,
  buf: Uint8Array,
  off: number,
  len: number,
) => number;

/**
 * Seeded, time-bounded mutation fuzzing of the NIfTI and DICOM readers on real files
 * (truncations, bit flips, header fields, tag lengths, transfer syntaxes; see
 * test/helpers/fuzz-child.ts), plus targeted hostile headers. Every case must load a usable
 * volume or throw a QuorumError naming the file; no case may hang (each is bounded) or allocate
 * beyond the cap. The fuzz runs in a child process, so a hang is killed and reported with the
 * case that caused it, and memory is that process's own.
 *
 * Replay: the seed and case index in a failure message regenerate the exact input.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { gunzipSync, gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { parseDicom } from '../../core/src/dicom/parse.ts';
import { groupSeries, seriesToVolume } from '../../core/src/dicom/series.ts';
import { MAX_VOXELS, QuorumError } from '../../core/src/errors.ts';
import { readNifti } from '../../core/src/nifti/read.ts';
import { NODE_CODECS } from '../../core/src/node/dicom-codecs.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { DATA, REPO } from '../helpers/paths.ts';

const SEED = 20240611;
/** Wall-clock budget and case cap per reader (whichever comes first). */
const BUDGET_MS = 6_000;
const MAX_CASES = 5_000;
/** One case taking longer than this is a hang (the child is killed). */
const CASE_LIMIT_MS = 5_000;
/** Resident memory of the fuzzing process may grow at most this much over its warmed-up baseline. */
const RSS_CAP = 512 * 2 ** 20;

type Msg =
  | { type: 'ready'; corpus: number; rss: number }
  | { type: 'start'; i: number; desc: string }
  | { type: 'end'; i: number; outcome: string; ms: number; rss: number }
  | { type: 'done'; cases: number; ms: number }
  | { type: 'exit' }
  | { type: 'crash'; message: string };

interface Report {
  corpus: number;
  baseline: number;
  cases: { i: number; desc: string; outcome: string; ms: number; rss: number }[];
  hang?: string;
  crash?: string;
}

function fuzz(kind: 'nifti' | 'dicom'): Promise<Report> {
  return new Promise((resolve) => {
    const child: ChildProcess = fork(
      join(REPO, 'test', 'helpers', 'fuzz-child.ts'),
      [kind, String(SEED), String(BUDGET_MS), String(MAX_CASES)],
      { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'], cwd: REPO },
    );
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    const report: Report = { corpus: 0, baseline: 0, cases: [] };
    let current: { i: number; desc: string } | undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        report.hang = current
          ? `case ${current.i} (seed ${SEED}) still running after ${ms} ms: ${current.desc}`
          : `no progress for ${ms} ms`;
        child.kill('SIGKILL');
      }, ms);
    };
    arm(60_000); // start-up: tsx, codecs, warm-up of the corpus
    child.on('message', (m: Msg) => {
      if (m.type === 'ready') {
        report.corpus = m.corpus;
        report.baseline = m.rss;
      } else if (m.type === 'start') {
        current = m;
        arm(CASE_LIMIT_MS);
      } else if (m.type === 'end') {
        report.cases.push({ ...m, desc: current?.desc ?? '' });
        current = undefined;
        arm(CASE_LIMIT_MS);
      } else if (m.type === 'crash') report.crash = m.message;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code && !report.crash && !report.hang) report.crash = `exit ${code}: ${stderr}`;
      resolve(report);
    });
  });
}

function summarise(r: Report) {
  const outcomes: Record<string, number> = {};
  for (const c of r.cases) {
    const key = c.outcome.startsWith('BUG') ? 'BUG' : c.outcome;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
  }
  const slowest = r.cases.reduce((a, c) => (c.ms > a.ms ? c : a), { ms: 0, desc: '', i: -1 });
  const peak = Math.max(r.baseline, ...r.cases.map((c) => c.rss));
  return { outcomes, slowest, peakGrowthMiB: (peak - r.baseline) / 2 ** 20 };
}

function expectClean(r: Report) {
  expect(r.hang, r.hang).toBeUndefined();
  expect(r.crash, r.crash).toBeUndefined();
  const bugs = r.cases.filter((c) => c.outcome.startsWith('BUG'));
  expect(
    bugs.slice(0, 5).map((b) => `case ${b.i} (seed ${SEED}): ${b.desc} -> ${b.outcome}`),
    'every case loads a usable volume or throws a QuorumError naming the file',
  ).toEqual([]);
  const s = summarise(r);
  expect(s.slowest.ms, `slowest: case ${s.slowest.i} ${s.slowest.desc}`).toBeLessThan(CASE_LIMIT_MS);
  expect(s.peakGrowthMiB * 2 ** 20).toBeLessThan(RSS_CAP);
  // the mutations reach both outcomes: damaged files are refused, mild ones still load
  expect(s.outcomes.ok ?? 0).toBeGreaterThan(0);
  expect(r.cases.length - (s.outcomes.ok ?? 0)).toBeGreaterThan(0);
  return s;
}

describe('fuzzing (seeded, time-bounded)', () => {
  it('NIfTI (.nii, .nii.gz, NIfTI-1/2, both endians): load or QuorumError, no hang, bounded memory', async () => {
    const r = await fuzz('nifti');
    expect(r.hang, r.hang).toBeUndefined();
    expect(r.crash, r.crash).toBeUndefined();
    expect(r.corpus).toBeGreaterThan(8);
    expect(r.cases.length).toBeGreaterThan(100);
    const s = expectClean(r);
    console.log(`NIfTI fuzz: ${r.cases.length} cases`, s.outcomes, `peak +${s.peakGrowthMiB.toFixed(0)} MiB`);
  });

  it('DICOM (7 transfer syntaxes, mosaic, GE): load or QuorumError, no hang, bounded memory', async () => {
    const r = await fuzz('dicom');
    expect(r.hang, r.hang).toBeUndefined();
    expect(r.crash, r.crash).toBeUndefined();
    expect(r.corpus).toBeGreaterThan(8);
    expect(r.cases.length).toBeGreaterThan(100);
    const s = expectClean(r);
    console.log(`DICOM fuzz: ${r.cases.length} cases`, s.outcomes, `peak +${s.peakGrowthMiB.toFixed(0)} MiB`);
  });
});

describe('hostile headers are refused before anything is allocated', () => {
  const little = gunzipSync(readFileSync(join(DATA, 'nifti', 'nifti-reader-js', 'little.nii.gz')));
  const nifti2 = gunzipSync(readFileSync(join(DATA, 'nifti', 'nibabel', 'example_nifti2.nii.gz')));

  function refusal(fn: () => unknown): { err: QuorumError; rssJumpMiB: number } {
    const before = process.memoryUsage.rss();
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    const rssJumpMiB = (process.memoryUsage.rss() - before) / 2 ** 20;
    expect(err).toBeInstanceOf(QuorumError);
    return { err: err as QuorumError, rssJumpMiB };
  }

  it('NIfTI-1 claiming 10000x10000x10000 (10^12) voxels, also gzipped', () => {
    const b = little.slice();
    const v = new DataView(b.buffer);
    for (let i = 1; i <= 3; i++) v.setInt16(40 + 2 * i, 10000, true);
    for (const [bytes, name] of [
      [b, 'huge.nii'],
      [gzipSync(b, { level: 1 }), 'huge.nii.gz'],
    ] as const) {
      const { err, rssJumpMiB } = refusal(() => readNifti(bytes, name));
      expect(err.code).toBe('too-large');
      expect(err.message).toBe(
        `${name}: 10000x10000x10000 = 1000000000000 voxels exceeds the ${MAX_VOXELS}-voxel limit`,
      );
      expect(rssJumpMiB).toBeLessThan(64);
    }
  });

  it('NIfTI-2 claiming 10^12 voxels in one int64 dimension', () => {
    const b = nifti2.slice();
    const v = new DataView(b.buffer);
    expect(v.getInt32(0, true)).toBe(540);
    v.setBigInt64(16 + 8, 10n ** 12n, true);
    const { err, rssJumpMiB } = refusal(() => readNifti(b, 'huge2.nii'));
    expect(err.code).toBe('too-large');
    expect(err.message).toMatch(
      /^huge2\.nii: 1000000000000x\d+x\d+ = \d+ voxels exceeds the \d+-voxel limit$/,
    );
    expect(rssJumpMiB).toBeLessThan(64);
  });

  it('a gzip footer claiming 4 GiB is not trusted: the header decides how far to inflate', () => {
    const gz = gzipSync(little, { level: 1 });
    new DataView(gz.buffer).setUint32(gz.length - 4, 0xfffffff0, true);
    const before = process.memoryUsage.rss();
    const v = readNifti(gz, 'footer.nii.gz');
    expect((process.memoryUsage.rss() - before) / 2 ** 20).toBeLessThan(64);
    expect(v.data).toEqual(readNifti(little, 'little.nii').data);
  });

  it('a gzip bomb (a small image, then 512 MiB of zeros) inflates only as far as its header says', async () => {
    const real = readNifti(little, 'little.nii');
    const voxOffset = Math.floor(new DataView(little.buffer, little.byteOffset).getFloat32(108, true));
    const bytes = voxOffset + real.data.length * real.data.BYTES_PER_ELEMENT;
    // Made with zlib, streamed: the 512 MiB never exist in this process either.
    const gz = createGzip({ level: 9 });
    const parts: Buffer[] = [];
    gz.on('data', (d: Buffer) => parts.push(d));
    const ended = new Promise((ok) => gz.on('end', ok));
    gz.write(little.subarray(0, bytes));
    const zeros = Buffer.alloc(16 * 2 ** 20);
    for (let i = 0; i < 32; i++) gz.write(zeros);
    gz.end();
    await ended;
    const bomb = new Uint8Array(Buffer.concat(parts));
    expect(bomb.length).toBeLessThan(2 ** 20);
    const before = process.memoryUsage.rss();
    const t = performance.now();
    const v = readNifti(bomb, 'bomb.nii.gz');
    expect(performance.now() - t).toBeLessThan(1000);
    expect((process.memoryUsage.rss() - before) / 2 ** 20).toBeLessThan(64);
    expect(v.dims).toEqual(real.dims);
    expect(v.data).toEqual(real.data);
  });

  it('a truncated copy of a real .nii.gz says "file is truncated", naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorum-truncated-'));
    try {
      const src = join(
        DATA,
        'brats2015-deepmedic',
        'validation',
        'brats_2013_pat0003_1',
        'Flair_subtrMeanDivStd.nii.gz',
      );
      const cut = join(dir, 'flair.nii.gz');
      const whole = readFileSync(src);
      for (const at of [100, 5000, Math.floor(whole.length / 2), whole.length - 5000]) {
        writeFileSync(cut, whole.subarray(0, at));
        let err: unknown;
        try {
          await loadVolume(cut);
        } catch (e) {
          err = e;
        }
        expect(err, `cut at ${at}`).toBeInstanceOf(QuorumError);
        expect((err as QuorumError).code).toBe('truncated');
        expect((err as Error).message).toMatch(
          new RegExp(`^${cut}: (file is truncated|only \\d+ bytes: too short)`),
        );
        expect((err as Error).message).not.toMatch(/gzip footer|claims/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a negative NIfTI extension size (a loop in nifti-reader-js) is harmless', () => {
    // extension flag set, vox_offset past one extension, esize -16 at 352 and +16 at 336:
    // following the chain would step 352 -> 336 -> 352 ... forever
    const b = little.slice();
    const v = new DataView(b.buffer);
    b[348] = 1;
    v.setFloat32(108, 368, true);
    v.setInt32(352, -16, true);
    v.setInt32(336, 16, true);
    const t = performance.now();
    const { err } = refusal(() => readNifti(b, 'ext-loop.nii'));
    expect(performance.now() - t).toBeLessThan(1000);
    // the shifted data no longer fits: the file is reported as truncated, not hung on
    expect(err.code).toBe('truncated');
  });

  it('DICOM Rows x Columns x NumberOfFrames over the voxel limit', () => {
    const b = new Uint8Array(readFileSync(join(DATA, 'dicom', 'pydicom-testfiles', 'MR_small.dcm')));
    const im = parseDicom(b, 'x');
    const v = new DataView(b.buffer);
    for (const tag of ['x00280010', 'x00280011'])
      v.setUint16(im.dataSet.elements[tag].dataOffset, 65535, true);
    const { err, rssJumpMiB } = refusal(() => parseDicom(b, 'huge.dcm'));
    expect(err.code).toBe('too-large');
    expect(err.message).toBe('huge.dcm: 65535x65535x1 exceeds the voxel limit');
    expect(rssJumpMiB).toBeLessThan(64);
  });
});

describe('regressions found by the fuzzer (DICOM attributes)', () => {
  const PYD = join(DATA, 'dicom', 'pydicom-testfiles');
  /** The file with one string attribute rewritten in place (space-padded to its length). */
  function withString(file: string, tag: string, text: string): Uint8Array {
    const b = new Uint8Array(readFileSync(file));
    const el = parseDicom(b, file).dataSet.elements[tag];
    expect(text.length).toBeLessThanOrEqual(el.length);
    for (let k = 0; k < el.length; k++) b[el.dataOffset + k] = k < text.length ? text.charCodeAt(k) : 0x20;
    return b;
  }
  const load = async (b: Uint8Array, name: string) => {
    const im = parseDicom(b, name);
    return seriesToVolume(groupSeries([im])[0], NODE_CODECS, name);
  };
  const error = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e) => e as QuorumError,
    );

  it('a zero ImageOrientationPatient is refused (it gave zero direction axes)', async () => {
    const b = withString(join(PYD, 'MR_small.dcm'), 'x00200037', '0\\0\\0\\0\\0\\0');
    const err = await error(load(b, 'iop.dcm'));
    expect(err).toBeInstanceOf(QuorumError);
    expect(err?.code).toBe('corrupt');
    expect(err?.message).toMatch(/^iop\.dcm: ImageOrientationPatient .* is not two orthogonal unit vectors$/);
  });

  it('a slightly off-unit ImageOrientationPatient (rounded decimals) is renormalised', async () => {
    const b = withString(join(PYD, 'MR_small.dcm'), 'x00200037', '1.004\\0\\0\\0\\0.996\\0');
    const v = await load(b, 'iop2.dcm');
    for (let c = 0; c < 3; c++) expect(Math.hypot(...v.direction.slice(3 * c, 3 * c + 3))).toBeCloseTo(1, 12);
  });

  it('a negative PixelSpacing is refused (it gave negative voxel sizes)', async () => {
    const err = await error(load(withString(join(PYD, 'MR_small.dcm'), 'x00280030', '-1\\-1'), 'ps.dcm'));
    expect(err?.code).toBe('corrupt');
    expect(err?.message).toBe('ps.dcm: PixelSpacing -1\\-1 is not two positive numbers');
  });

  it('an infinite or negative SpacingBetweenSlices is ignored for a mosaic (it gave spacing Infinity / -1)', async () => {
    const file = join(DATA, 'dicom', 'dcm_qa_ts', 'In', '1.dcm');
    const good = await load(new Uint8Array(readFileSync(file)), 'good.dcm');
    for (const text of ['1e309', '-1']) {
      const v = await load(withString(file, 'x00180088', text), 'sbs.dcm');
      expect(v.spacing.every((s) => Number.isFinite(s) && s > 0)).toBe(true);
      // falls back to SliceThickness
      expect(v.spacing[2]).toBe(Number(parseDicom(readFileSync(file), file).sliceThickness));
      expect(v.dims).toEqual(good.dims);
    }
  });

  it('a file cut inside an attribute value is truncated (dicom-parser threw a bare string)', () => {
    const b = readFileSync(join(PYD, 'MR_small_implicit.dcm')).subarray(0, 1384);
    let err: unknown;
    try {
      parseDicom(b, 'cut.dcm');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(QuorumError);
    expect((err as QuorumError).code).toBe('truncated');
    expect((err as Error).message).toMatch(/^cut\.dcm: /);
  });
});

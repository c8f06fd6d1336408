/**
 * Volume I/O speed on real data: a 240x240x155 float32 BraTS FLAIR (.nii.gz) loaded and written,
 * and DICOM series loaded (GE EPI, 150 files; one Siemens mosaic in JPEG 2000 and JPEG-LS).
 * Each measure is the median of N runs after one warm-up. Env: QUORUM_BENCH_IO_N (default 7).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDicomSeries } from '../core/src/node/dicom-fs.ts';
import { loadVolume, writeNiftiFile } from '../core/src/node/load.ts';
import type { BenchRow } from './types.ts';

export const title = 'volume I/O (NIfTI and DICOM on real data)';

const DATA = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'data');
const FLAIR = join(
  DATA,
  'brats2015-deepmedic',
  'validation',
  'brats_2013_pat0003_1',
  'Flair_subtrMeanDivStd.nii.gz',
);
const GE = join(DATA, 'dicom', 'dcm_qa_nih', 'In', '20180918GE', 'mr_0004');
const TS = join(DATA, 'dicom', 'dcm_qa_ts', 'In');
const N = Number(process.env.QUORUM_BENCH_IO_N ?? 7);

async function median(fn: () => unknown): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const note = `median of ${N}`;
  const flair = await loadVolume(FLAIR);
  const mb = flair.data.byteLength / 2 ** 20;
  rows.push({
    group: 'io',
    name: `load NIfTI .nii.gz ${flair.dims.join('x')} ${flair.source.datatype}`,
    value: await median(() => loadVolume(FLAIR)),
    unit: 'ms',
    note: `${note}; ${mb.toFixed(1)} MiB of voxels`,
  });
  const tmp = mkdtempSync(join(tmpdir(), 'quorum-bench-io-'));
  try {
    rows.push({
      group: 'io',
      name: 'write NIfTI .nii.gz (same volume, atomic)',
      // each run replaces the one before, as a rerun with --overwrite does (only files Quorum wrote)
      value: await median(() => writeNiftiFile(join(tmp, 'flair.nii.gz'), flair, { replace: 'own' })),
      unit: 'ms',
      note,
    });
    rows.push({
      group: 'io',
      name: 'write NIfTI .nii (uncompressed, atomic)',
      value: await median(() => writeNiftiFile(join(tmp, 'flair.nii'), flair, { replace: 'own' })),
      unit: 'ms',
      note,
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const ge = await loadDicomSeries(GE);
  rows.push({
    group: 'io',
    name: `load DICOM series, GE EPI 150 files -> ${ge.dims.join('x')}`,
    value: await median(() => loadDicomSeries(GE)),
    unit: 'ms',
    note: `${note}; 15 slices x 10 time points, explicit LE`,
  });
  for (const [file, what] of [
    ['1.dcm', 'explicit LE'],
    ['7.dcm', 'JPEG-LS'],
    ['9.dcm', 'JPEG 2000'],
  ]) {
    const f = join(TS, file);
    rows.push({
      group: 'io',
      name: `load DICOM Siemens mosaic 64x64x35 (${what})`,
      value: await median(() => loadDicomSeries([f])),
      unit: 'ms',
      note,
    });
  }
  return rows;
}

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadVolume } from '../../core/src/node/load.ts';
import { quorumAsync as cli } from '../helpers/cli.ts';
import { linkDataset } from '../helpers/dataset.ts';
import { PAT3, REPO } from '../helpers/paths.ts';

const root = mkdtempSync(join(tmpdir(), 'quorum-dataset-'));
const ds = join(root, 'dataset');
afterAll(() => rmSync(root, { recursive: true, force: true }));

linkDataset(ds, true);

const FAST = ['--slices', '75:76', '--members', '2', '--steps', '2', '--seed', '3'];
const BIN = join(REPO, 'bin', 'quorum.mjs');

function readCsv(path: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const keys = head.split(',');
  return lines.map((l) => {
    // fields here hold no quotes except the error message, which is last
    const parts = l.split(',');
    const row: Record<string, string> = {};
    keys.forEach((k, i) => {
      row[k] = i === keys.length - 1 ? parts.slice(i).join(',').replace(/^"|"$/g, '') : parts[i];
    });
    return row;
  });
}

describe('quorum propose-dataset', () => {
  const out = join(root, 'out');

  it('proposes every case with one engine, reports the broken one in the CSV and goes on', async () => {
    const r = await cli('propose-dataset', ds, '--out', out, ...FAST);
    expect(r.code).toBe(1); // one case failed
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    expect(result).toMatchObject({ cases: 3, done: 2, skipped: 0, errors: 1, interrupted: false });
    const rows = readCsv(join(out, 'summary.csv'));
    expect(rows.map((x) => [x.case, x.status])).toEqual([
      ['broken', 'error'],
      ['pat3', 'done'],
      ['pat4', 'done'],
    ]);
    expect(rows[0].error).toMatch(/broken\/flair\.nii\.gz: file is truncated/);
    const flair = await loadVolume(join(PAT3, 'Flair_subtrMeanDivStd.nii.gz'));
    for (const name of ['pat3', 'pat4']) {
      const dir = join(out, name);
      expect(
        readdirSync(dir)
          .filter((f) => !f.startsWith('.'))
          .sort(),
      ).toEqual(['mask.nii.gz', 'report.json', 'uncertainty.nii.gz']);
      const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
      expect(report.settings).toMatchObject({ members: 2, steps: 2, seed: 3, slices: [75, 76] });
      expect(report.slices.map((s: { k: number }) => s.k)).toEqual([75, 76]);
      expect(report.confidence).toBeGreaterThan(0);
      expect(report.confidence).toBeLessThanOrEqual(1);
      expect(report.lowConfidence).toBe(report.confidence < report.confidenceLowBelow);
      const row = rows.find((x) => x.case === name)!;
      expect(Number(row.lesion_ml)).toBeCloseTo(report.lesionVolumeMl, 3);
      expect(Number(row.uncertainty_ml)).toBeCloseTo(report.uncertaintyMm3 / 1000, 3);
      expect(Number(row.confidence)).toBeCloseTo(report.confidence, 3);
      expect(row.low_confidence).toBe(report.lowConfidence ? 'yes' : 'no');
      expect(Number(row.longest_diameter_mm)).toBeCloseTo(report.bidimensional.longestMm, 3);
      expect(Number(row.perpendicular_diameter_mm)).toBeCloseTo(report.bidimensional.perpendicularMm, 3);
      expect(report.bidimensional.plane).toBe('axial');
      expect([75, 76]).toContain(report.bidimensional.k);
      expect(Number(row.seconds)).toBeGreaterThan(0);
      // both subjects have tumour on slices 75-76: the proposal must find some
      expect(report.lesionVolumeMl).toBeGreaterThan(0.5);
      const mask = await loadVolume(join(dir, 'mask.nii.gz'));
      expect(mask.dims).toEqual(flair.dims);
      expect(mask.origin).toEqual(flair.origin);
      let lesion = 0;
      for (let i = 0; i < mask.data.length; i++) lesion += mask.data[i];
      expect(lesion / 1000).toBeCloseTo(report.lesionVolumeMl, 6); // 1 mm³ voxels
    }
    expect(existsSync(join(out, 'broken', 'report.json'))).toBe(false);
  });

  it('a second run skips the complete cases and retries only the broken one', async () => {
    const before = statSync(join(out, 'pat3', 'mask.nii.gz')).mtimeMs;
    const t0 = performance.now();
    const r = await cli('propose-dataset', ds, '--out', out, ...FAST);
    const seconds = (performance.now() - t0) / 1000;
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1) as string)).toMatchObject({
      done: 0,
      skipped: 2,
      errors: 1,
    });
    expect(readCsv(join(out, 'summary.csv')).map((x) => x.status)).toEqual(['error', 'skipped', 'skipped']);
    expect(statSync(join(out, 'pat3', 'mask.nii.gz')).mtimeMs).toBe(before);
    // no engine was started: well under the time of one proposal
    expect(seconds).toBeLessThan(5);
    // other settings are not "complete": the case would be redone (checked without running it)
    const { completeReport } = await import('../../workers/src/case-report.ts');
    expect(completeReport(join(out, 'pat3'), { steps: 2, seed: 3 })).toBeDefined();
    expect(completeReport(join(out, 'pat3'), { steps: 5 })).toBeUndefined();
    // a listed output gone: incomplete
    rmSync(join(out, 'pat4', 'uncertainty.nii.gz'));
    expect(completeReport(join(out, 'pat4'))).toBeUndefined();
  });

  it('killed -9 mid-run, a rerun redoes the interrupted case and skips the finished one', async () => {
    const out2 = join(root, 'out-killed');
    const child = spawn('node', [BIN, 'propose-dataset', ds, '--out', out2, ...FAST], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code, sig) => r(sig ? -1 : code)));
    // as soon as pat3 is finished the run is on pat4: kill it there
    await new Promise<void>((ok) =>
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/^pat3: [\d.]+ mL/m.test(stderr)) ok();
      }),
    );
    child.kill('SIGKILL');
    expect(await exited).toBe(-1);
    expect(existsSync(join(out2, 'pat3', 'report.json'))).toBe(true);
    expect(existsSync(join(out2, 'pat4', 'report.json'))).toBe(false);
    // the CSV written so far is whole (atomic writes): broken + pat3
    expect(readCsv(join(out2, 'summary.csv')).map((x) => x.case)).toEqual(['broken', 'pat3']);

    const r = await cli('propose-dataset', ds, '--out', out2, ...FAST);
    expect(r.stdout.trim(), `the rerun printed no summary (exit ${r.code}): ${r.stderr}`).not.toBe('');
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1) as string)).toMatchObject({
      done: 1,
      skipped: 1,
      errors: 1,
    });
    expect(readCsv(join(out2, 'summary.csv')).map((x) => `${x.case}:${x.status}`)).toEqual([
      'broken:error',
      'pat3:skipped',
      'pat4:done',
    ]);
    // same seed and settings as the uninterrupted run: the same proposal (up to a few voxels that
    // multi-threaded float sums may flip at the 0.5 threshold)
    const a = JSON.parse(readFileSync(join(out, 'pat4', 'report.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(out2, 'pat4', 'report.json'), 'utf8'));
    expect(b.slices.map((x: { k: number }) => x.k)).toEqual([75, 76]);
    expect(Math.abs(b.lesionVolumeMl - a.lesionVolumeMl)).toBeLessThanOrEqual(0.01 * a.lesionVolumeMl);
  });

  it('--shard i/n takes every n-th case, with a CSV of its own', async () => {
    const out3 = join(root, 'out-shard');
    const r = await cli('propose-dataset', ds, '--out', out3, '--shard', '1/2', ...FAST);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1) as string)).toMatchObject({ cases: 1, done: 1 });
    expect(readCsv(join(out3, 'summary-shard-1-of-2.csv')).map((x) => x.case)).toEqual(['pat3']);
    expect(existsSync(join(out3, 'summary.csv'))).toBe(false);
    const bad = await cli('propose-dataset', ds, '--out', out3, '--shard', '2/2');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--shard must be i\/n with 0 <= i < n/);
  });
});

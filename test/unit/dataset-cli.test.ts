import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseShard, summaryCsv } from '../../workers/src/cli/commands/propose-dataset.ts';
import { listDatasetCases } from '../../workers/src/dataset-cases.ts';

describe('propose-dataset helpers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorum-ds-list-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('summary CSV: fixed columns, numbers rounded, messages with commas, quotes and newlines quoted', () => {
    const csv = summaryCsv([
      {
        case: 'a',
        status: 'done',
        lesionVolumeMl: 12.345678,
        uncertaintyMl: 0.1,
        confidence: 0.71234567,
        lowConfidence: true,
        longestMm: 41.23456,
        perpendicularMm: 30,
        labelDice: 0.812345,
        seconds: 3.21,
      },
      { case: 'b,c', status: 'error', seconds: 0.5, error: 'bad "file", see\nline 2' },
      { case: 'd', status: 'skipped', lesionVolumeMl: 0, uncertaintyMl: Number.NaN, seconds: 0 },
    ]);
    expect(csv).toBe(
      'case,status,lesion_ml,uncertainty_ml,confidence,low_confidence,longest_diameter_mm,perpendicular_diameter_mm,label_dice,seconds,error\n' +
        'a,done,12.3457,0.1,0.7123,yes,41.2346,30,0.8123,3.21,\n' +
        '"b,c",error,,,,,,,,0.5,"bad ""file"", see line 2"\n' +
        'd,skipped,0,,,,,,,0,\n',
    );
  });

  it('--shard i/n: 0 <= i < n', () => {
    expect(parseShard(undefined)).toEqual([0, 1]);
    expect(parseShard('3/8')).toEqual([3, 8]);
    for (const bad of ['8/8', '1/0', '-1/2', '1', 'a/b', true] as const)
      expect(() => parseShard(bad)).toThrow(/--shard must be i\/n/);
  });

  it('cases are the sorted subfolders, symlinks followed, hidden and output folders left out, dangling links kept', () => {
    for (const d of ['b', 'a', '.cache', 'out']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'notes.txt'), 'x');
    symlinkSync(join(dir, 'a'), join(dir, 'c-link'));
    symlinkSync(join(dir, 'missing'), join(dir, 'd-dangling'));
    expect(listDatasetCases(dir, [join(dir, 'out')]).map((c) => c.name)).toEqual([
      'a',
      'b',
      'c-link',
      'd-dangling',
    ]);
  });
});

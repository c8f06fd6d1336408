/**
 * NaN and infinite voxels are read as background (core/src/finite.ts), on a real raw BraTS FLAIR
 * rewritten as SPM writes a masked image: NaN wherever the stored value is the background.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QuorumError } from '../../core/src/errors.ts';
import { fillNonFinite } from '../../core/src/finite.ts';
import { openCase } from '../../core/src/node/case.ts';
import { loadVolume, writeNiftiFile } from '../../core/src/node/load.ts';
import { channelStats } from '../../core/src/preprocess-v2.ts';
import type { Volume } from '../../core/src/volume.ts';
import { describeVolume } from '../../workers/src/cli/commands/info.ts';
import { DATA } from '../helpers/paths.ts';

const FLAIR = join(DATA, 'brats-4seq', 'brats2015-tcia-pat222', 'Flair.nii.gz');
const STATS = { histogramBins: 256, sampleTarget: 1 << 20 };

describe('voxels that hold no number', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorum-finite-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a masked image with NaN outside the brain reads as its brain on the lowest value, and says so', async () => {
    const stored = await loadVolume(FLAIR);
    const data = Float32Array.from(stored.data);
    let low = Number.POSITIVE_INFINITY;
    for (const x of data) if (x < low) low = x;
    let outside = 0;
    let nextLow = Number.POSITIVE_INFINITY;
    for (let i = 0; i < data.length; i++) {
      if (data[i] === low) {
        data[i] = Number.NaN;
        outside++;
      } else if (data[i] < nextLow) nextLow = data[i];
    }
    data[12345 + 240 * 240 * 77] = Number.POSITIVE_INFINITY; // and one division by zero
    const file = join(dir, 'masked.nii.gz');
    writeNiftiFile(file, { ...stored, data });
    // the reader keeps the NaN (a proposal's or a label's NaN is refused as corrupt); a case's scan is filled
    const read = await loadVolume(file);
    expect(Number.isNaN(read.data[data.findIndex((x) => Number.isNaN(x))])).toBe(true);
    // quorum info says so, and what a case does with them
    expect(describeVolume(read).warnings.join('\n')).toMatch(
      / are NaN or infinite.*when a case reads it as a sequence/,
    );
    const c = await openCase({ flair: file, t1c: FLAIR });
    const v = c.sequences.flair!;
    expect(c.warnings.join('\n')).toMatch(/^flair \(masked\.nii\.gz\): \d+ voxels .* NaN or infinite/m);
    let bad = 0;
    for (const x of v.data) if (!Number.isFinite(x)) bad++;
    expect(bad).toBe(0);
    expect(v.source.warnings?.join('\n')).toMatch(
      new RegExp(
        `^${outside + 1} voxels \\([\\d.]+%\\) are NaN or infinite.*background \\(the lowest value, ${nextLow}\\)`,
        'm',
      ),
    );
    // everything else is the stored image, and the model's intensity statistics barely move: the
    // background is still below Otsu's threshold, so the foreground percentiles are the brain's
    let changed = 0;
    for (let i = 0; i < data.length; i++) if (Number.isFinite(data[i]) && v.data[i] !== data[i]) changed++;
    expect(changed).toBe(0);
    const a = channelStats(stored.data, STATS);
    const b = channelStats(v.data, STATS);
    for (const p of ['p1', 'p50', 'p99'] as const)
      expect(Math.abs(b[p] - a[p])).toBeLessThanOrEqual(0.02 * (a.p99 - a.p1));
  });

  it('integer data is left alone; an image of nothing but NaN is refused with its name', () => {
    const source = {
      path: '/scans/empty.nii',
      format: 'nifti',
      datatype: 'float32',
      sequence: 'flair',
    } as Volume['source'];
    const ints = { data: new Int16Array([0, -5, 7]), source: { ...source } };
    expect(fillNonFinite(ints)).toBe(0);
    expect(ints.source.warnings).toBeUndefined();
    const inf = { data: new Float64Array([1, Number.NEGATIVE_INFINITY, 2]), source: { ...source } };
    expect(fillNonFinite(inf)).toBe(1);
    expect([...inf.data]).toEqual([1, 1, 2]);
    expect(inf.source.warnings?.[0]).toMatch(/^1 voxels \(33\.3%\) are infinite/);
    const none = { data: new Float32Array(8).fill(Number.NaN), source: { ...source } };
    expect(() => fillNonFinite(none)).toThrow(QuorumError);
    expect(() => fillNonFinite(none)).toThrow(
      /\/scans\/empty\.nii: no voxel holds a number \(all 8 are NaN\)/,
    );
  });
});

/**
 * Sequences on different grids (issue 11): a real BraTS case (pat222) whose T1c is resampled with
 * Quorum's own geometry code onto a 10°-tilted grid of 5 mm slices and written as NIfTI, as a
 * scanner would deliver a second series. Opening it brings the T1c back onto the FLAIR grid
 * through world coordinates, says so with the overlap and the angle, comes close to the original
 * T1c inside the brain, and proposes the same lesion as the single-grid case (Dice >= 0.9).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameGrid } from '../../core/src/geometry.ts';
import { dice } from '../../core/src/metrics.ts';
import { MOVED_HINT } from '../../core/src/node/align.ts';
import { openCase } from '../../core/src/node/case.ts';
import { loadVolume, writeNiftiFile } from '../../core/src/node/load.ts';
import { resampleToGrid } from '../../core/src/resample.ts';
import type { Vec3, Volume } from '../../core/src/volume.ts';
import { describeCase } from '../../workers/src/host/cases.ts';
import { quorumWith } from '../helpers/cli.ts';
import { agreement, centredGrid } from '../helpers/grids.ts';
import { DATA } from '../helpers/paths.ts';

const PAT222 = join(DATA, 'brats-4seq', 'brats2015-tcia-pat222');
const tmp = mkdtempSync(join(tmpdir(), 'quorum-grids-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let t1c: Volume;
let brain: Volume;

/** A grid of `dims` x `spacing` tilted by `deg` about the left-right axis, centred on `v`'s centre. */
function tiltedGrid(v: Volume, deg: number, spacing: Vec3, dims: Vec3) {
  const a = (deg * Math.PI) / 180;
  return centredGrid(v, [1, 0, 0, 0, Math.cos(a), Math.sin(a), 0, -Math.sin(a), Math.cos(a)], spacing, dims);
}

/** A case folder: pat222's FLAIR (linked) and `t1cOnGrid` written as NIfTI, BraTS-toolkit names. */
function makeCase(name: string, t1cOnGrid: Volume): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  symlinkSync(join(PAT222, 'Flair.nii.gz'), join(dir, 'pat_fla_bet.nii.gz'));
  writeNiftiFile(join(dir, 'pat_t1c_bet.nii.gz'), t1cOnGrid, { datatype: 'float32' });
  return dir;
}

beforeAll(async () => {
  t1c = await loadVolume(join(PAT222, 'T1c.nii.gz'));
  brain = await loadVolume(join(PAT222, 'BrainExtractionMask.nii.gz'));
});

describe('a T1c on a tilted, thicker grid than the FLAIR', () => {
  let tiltedCase: string;
  let tiltedWarnings: string[] = [];

  it('is resampled onto the FLAIR grid through world coordinates, with overlap and angle said', async () => {
    const grid = tiltedGrid(t1c, 10, [0.9375, 0.9375, 5], [256, 256, 30]);
    tiltedCase = makeCase('tilted-5mm', resampleToGrid(t1c, grid).volume);
    const c = await openCase(tiltedCase);
    tiltedWarnings = c.warnings;
    const flair = c.sequences.flair as Volume;
    const back = c.sequences.t1c as Volume;
    expect(sameGrid(back, flair)).toBe(true);
    expect(c.alignment.map((a) => [a.sequence, a.action])).toEqual([
      ['flair', 'reference'],
      ['t1c', 'resampled'],
    ]);
    const a = c.alignment[1];
    expect(a).toMatchObject({ method: 'world coordinates, trilinear', reference: 'flair', angleDeg: 10 });
    expect(a.grid.dims).toEqual([256, 256, 30]);
    for (const [i, mm] of [0.9375, 0.9375, 5].entries()) expect(a.grid.spacing[i]).toBeCloseTo(mm, 4);
    expect(a.overlapPct).toBeGreaterThan(85);
    expect(a.overlapPct).toBeLessThan(95); // 150 mm of tilted slab over a 155 mm FLAIR
    expect(a.reason).toMatch(/^file name "pat_t1c_bet.nii.gz" \("t1c"\)/);
    // what is unusual about the T1c as read, then what was done to it
    expect(c.warnings).toHaveLength(3);
    expect(c.warnings[0]).toBe(
      't1c (pat_t1c_bet.nii.gz): thick slices: 5 mm apart along k (in-plane 0.94 mm x 0.94 mm); planes between them are interpolated',
    );
    expect(c.warnings[1]).toBe(
      "t1c (pat_t1c_bet.nii.gz): oblique: its axes are 10.0° from the scanner's (not on the usual axial/sagittal/coronal planes)",
    );
    expect(a.unusual).toEqual(c.warnings.slice(0, 2).map((w) => w.replace('t1c (pat_t1c_bet.nii.gz): ', '')));
    expect(c.warnings[2]).toMatch(
      new RegExp(
        `^t1c \\(pat_t1c_bet.nii.gz, 256x256x30 at 0.94x0.94x5 mm\\) is not on the flair grid \\(240x240x155 at 1x1x1 mm\\): ` +
          `resampled onto it through world coordinates \\(trilinear, no registration\\); it covers ${a.overlapPct}% of the flair grid; ` +
          `its axes are 10° from flair's`,
      ),
    );
    // a header cannot say whether the patient moved between the series: the warning says what to do if so
    expect(c.warnings[2].endsWith(`; ${MOVED_HINT}`)).toBe(true);
    // 5 mm slices lose detail along z; what is left must still be the same image
    const m = agreement(back, t1c, brain);
    expect(m.relMae).toBeLessThan(0.1);
    expect(m.corr).toBeGreaterThan(0.8);
  });

  it("the app's case info shows why each sequence was taken and how it reached the grid", async () => {
    const info = describeCase('tilted', await openCase(tiltedCase), ['flair', 't1c']);
    const by = Object.fromEntries(info.sequences.map((s) => [s.sequence, s]));
    expect(by.flair.grid).toBe('the reference grid');
    expect(by.flair.reason).toMatch(/^file name "pat_fla_bet.nii.gz" \("fla"\): T2-FLAIR/);
    expect(by.t1c.grid).toMatch(
      /^resampled onto the flair grid through world coordinates: covers [\d.]+% of it, axes 10° apart$/,
    );
    expect(info.warnings).toEqual(expect.arrayContaining(tiltedWarnings));
  });

  it('at 1 mm the round trip is only interpolation; ignoring the tilt would misplace the image', async () => {
    const grid = tiltedGrid(t1c, 10, [1, 1, 1], [240, 240, 150]);
    const moved = resampleToGrid(t1c, grid).volume;
    const c = await openCase(makeCase('tilted-1mm', moved));
    const exact = agreement(c.sequences.t1c as Volume, t1c, brain);
    expect(exact.relMae).toBeLessThan(0.04);
    expect(exact.corr).toBeGreaterThan(0.96);
    // the same voxels read as if the slices were straight (the tilt dropped): far worse
    const straight = resampleToGrid({ ...moved, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] }, t1c).volume;
    const wrong = agreement(straight, t1c, brain);
    expect(wrong.corr).toBeLessThan(exact.corr - 0.1);
  });

  it('proposes where the single-grid case proposes (Dice >= 0.9), and report.json says what was done', async () => {
    const single = join(tmp, 'single');
    mkdirSync(single);
    symlinkSync(join(PAT222, 'Flair.nii.gz'), join(single, 'flair.nii.gz'));
    symlinkSync(join(PAT222, 'T1c.nii.gz'), join(single, 't1c.nii.gz'));
    const fast = ['--slices', '96:103', '--members', '3', '--steps', '5', '--seed', '1'];
    const run = (dir: string, out: string) => {
      const r = quorumWith({}, 'propose', dir, '--out', out, ...fast);
      expect(r.code, r.stderr).toBe(0);
      return r.stderr;
    };
    run(single, join(tmp, 'out-single'));
    const said = run(tiltedCase, join(tmp, 'out-tilted'));
    // the CLI says it too, before proposing
    for (const w of tiltedWarnings) expect(said).toContain(`warning: ${w}`);
    const a = await loadVolume(join(tmp, 'out-single', 'mask.nii.gz'));
    const b = await loadVolume(join(tmp, 'out-tilted', 'mask.nii.gz'));
    expect(sameGrid(a, b)).toBe(true);
    let lesion = 0;
    for (const x of a.data) lesion += x;
    expect(lesion).toBeGreaterThan(1000); // a real lesion on these slices, not two empty masks
    expect(dice(Uint8Array.from(b.data), Uint8Array.from(a.data))).toBeGreaterThanOrEqual(0.9);
    const report = JSON.parse(readFileSync(join(tmp, 'out-tilted', 'report.json'), 'utf8'));
    expect(report.sequences.map((s: { sequence: string; action: string }) => [s.sequence, s.action])).toEqual(
      [
        ['flair', 'reference'],
        ['t1c', 'resampled'],
      ],
    );
    expect(report.sequences[1]).toMatchObject({ angleDeg: 10, method: 'world coordinates, trilinear' });
    expect(report.warnings).toEqual(tiltedWarnings);
    expect(report.warnings[2]).toMatch(
      /is not on the flair grid .* covers [\d.]+% of the flair grid; its axes are 10° from flair's/,
    );
  });
});

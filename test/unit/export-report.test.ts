import { describe, expect, it } from 'vitest';
import { HIGH_UNCERTAINTY_STD, lesionReport, reportCsv } from '../../core/src/export/report.ts';

describe('lesion report', () => {
  const geometry = {
    dims: [4, 3, 5] as [number, number, number],
    spacing: [0.5, 0.8, 3] as [number, number, number],
    origin: [0, 0, 0] as [number, number, number],
    // a rotated (but orthonormal) grid: determinant 1, volume unchanged
    direction: [0, 1, 0, -1, 0, 0, 0, 0, 1] as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ],
  };
  const n = 4 * 3 * 5;

  it('measures volume in mL from spacing, lists slices, and summarises uncertainty', () => {
    const mask = new Uint8Array(n);
    const unc = new Float32Array(n);
    mask[0] = 1; // slice 0
    mask[12 * 2 + 5] = 1; // slice 2
    mask[12 * 2 + 6] = 2; // any label > 0 counts
    unc[0] = 0.4;
    unc[12 * 2 + 5] = 0.1;
    unc[40] = 0.3; // outside the lesion
    const r = lesionReport({
      caseName: 'c',
      caseRoot: '/x',
      geometry,
      mask,
      uncertainty: unc,
      slicesEdited: [2, 0],
      now: new Date('2026-01-02T03:04:05Z'),
    });
    expect(r.lesionVoxels).toBe(3);
    expect(r.voxelVolumeMl).toBeCloseTo((0.5 * 0.8 * 3) / 1000, 12);
    expect(r.lesionVolumeMl).toBeCloseTo((3 * 0.5 * 0.8 * 3) / 1000, 12);
    expect(r.slicesWithLesion).toEqual([0, 2]);
    expect(r.slicesEdited).toEqual([0, 2]);
    const u = r.uncertainty as NonNullable<typeof r.uncertainty>;
    expect(u.max).toBeCloseTo(0.4, 6);
    expect(u.mean).toBeCloseTo((0.4 + 0.1 + 0.3) / 3, 6);
    expect(u.meanInLesion).toBeCloseTo((0.4 + 0.1) / 2, 6);
    expect(u.highFraction).toBeCloseTo(
      [0.4, 0.1, 0.3].filter((x) => x >= HIGH_UNCERTAINTY_STD).length / 3,
      6,
    );
    const [head, row] = reportCsv(r).trim().split('\n');
    expect(head.split(',')).toContain('lesion_volume_ml');
    expect(row.split(',')[head.split(',').indexOf('slices_edited')]).toBe('0 2');
    expect(row.split(',')[0]).toBe('c');
    // RANO: slice 2 (two pixels side by side, 1 x 0.8 mm edge to edge) outmeasures slice 0's one pixel
    expect(r.bidimensional?.k).toBe(2);
    expect(r.bidimensional?.longestMm).toBeCloseTo(Math.hypot(1, 0.8), 9);
    expect(r.bidimensional?.perpendicularMm).toBeGreaterThan(0);
    expect(r.bidimensional?.perpendicularMm).toBeLessThanOrEqual(r.bidimensional!.longestMm);
    expect(row.split(',')[head.split(',').indexOf('bidimensional_slice')]).toBe('axial 3');
    expect(row.split(',')[head.split(',').indexOf('longest_diameter_mm')]).toBe('1.3');
  });

  it('quotes CSV cells that contain commas or quotes', () => {
    const r = lesionReport({ caseName: 'a,"b"', caseRoot: '/x', geometry, mask: new Uint8Array(n) });
    expect(reportCsv(r).split('\n')[1].startsWith('"a,""b"""')).toBe(true);
    expect(r.lesionVolumeMl).toBe(0);
    expect(r.uncertainty).toBeUndefined();
  });
});

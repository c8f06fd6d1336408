import type { LesionReport, VolumeGeometry } from '../api.ts';
import { bidimensional } from '../diameters.ts';
import { voxelVolumeMl } from '../geometry.ts';
import type { SegmentInfo } from '../segments.ts';

/** Above this std a voxel counts as "uncertain" in the report (members disagree strongly). */
export const HIGH_UNCERTAINTY_STD = 0.25;

export interface ReportInput {
  caseName: string;
  caseRoot: string;
  geometry: VolumeGeometry;
  mask: Uint8Array;
  uncertainty?: Float32Array;
  slicesEdited?: number[];
  slicesProposed?: number[];
  model?: { name: string; version: string };
  /** Which label value is which segment: each gets its own volume in the report. */
  segments?: readonly SegmentInfo[];
  now?: Date;
}

/**
 * Lesion volume and uncertainty summary. Volume = lesion voxel count x voxel volume; the voxel
 * volume comes from spacing and the direction's determinant, so sheared grids are measured right.
 */
export function lesionReport(r: ReportInput): LesionReport {
  const [nx, ny, nz] = r.geometry.dims;
  const plane = nx * ny;
  const voxelMl = voxelVolumeMl(r.geometry);
  let lesion = 0;
  const slices: number[] = [];
  for (let k = 0; k < nz; k++) {
    let n = 0;
    for (let i = k * plane, e = i + plane; i < e; i++) if (r.mask[i]) n++;
    if (n) slices.push(k);
    lesion += n;
  }
  const report: LesionReport = {
    caseName: r.caseName,
    caseRoot: r.caseRoot,
    createdAt: (r.now ?? new Date()).toISOString(),
    lesionVoxels: lesion,
    lesionVolumeMl: lesion * voxelMl,
    voxelVolumeMl: voxelMl,
    slicesWithLesion: slices,
    slicesEdited: [...(r.slicesEdited ?? [])].sort((a, b) => a - b),
    slicesProposed: [...(r.slicesProposed ?? [])].sort((a, b) => a - b),
    model: r.model,
  };
  if (r.uncertainty) report.uncertainty = uncertaintySummary(r.uncertainty, r.mask);
  if (lesion) report.bidimensional = bidimensional(r.mask, r.geometry);
  if (r.segments) {
    const count = new Float64Array(256);
    for (let i = 0; i < r.mask.length; i++) count[r.mask[i]]++;
    report.segments = r.segments.map((s) => ({
      value: s.value,
      name: s.name,
      voxels: count[s.value],
      volumeMl: count[s.value] * voxelMl,
      ...(count[s.value] ? { bidimensional: bidimensional(r.mask, r.geometry, s.value) } : {}),
    }));
  }
  return report;
}

/** Statistics over voxels that have an uncertainty value (> 0, not NaN): where a proposal ran. */
function uncertaintySummary(u: Float32Array, mask: Uint8Array): NonNullable<LesionReport['uncertainty']> {
  const vals: number[] = [];
  let sum = 0;
  let max = 0;
  let inLesion = 0;
  let nLesion = 0;
  let high = 0;
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    if (!(x > 0)) continue;
    vals.push(x);
    sum += x;
    if (x > max) max = x;
    if (x >= HIGH_UNCERTAINTY_STD) high++;
    if (mask[i]) {
      inLesion += x;
      nLesion++;
    }
  }
  vals.sort((a, b) => a - b);
  const p95 = vals.length ? vals[Math.min(vals.length - 1, Math.floor(0.95 * vals.length))] : 0;
  return {
    mean: vals.length ? sum / vals.length : 0,
    max,
    p95,
    meanInLesion: nLesion ? inLesion / nLesion : 0,
    highFraction: vals.length ? high / vals.length : 0,
  };
}

const csvCell = (v: unknown) => {
  const s = Array.isArray(v) ? v.join(' ') : v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** One header row + one value row: opens in any spreadsheet, appends across cases. */
export function reportCsv(r: LesionReport): string {
  const cols: [string, unknown][] = [
    ['case', r.caseName],
    ['created_at', r.createdAt],
    ['lesion_volume_ml', r.lesionVolumeMl.toFixed(3)],
    ['lesion_voxels', r.lesionVoxels],
    ['voxel_volume_ml', r.voxelVolumeMl],
    ['slices_with_lesion', r.slicesWithLesion.length],
    ['slices_edited', r.slicesEdited],
    ['slices_proposed', r.slicesProposed.length],
    ['uncertainty_mean', r.uncertainty?.mean.toFixed(4)],
    ['uncertainty_p95', r.uncertainty?.p95.toFixed(4)],
    ['uncertainty_max', r.uncertainty?.max.toFixed(4)],
    ['uncertainty_mean_in_lesion', r.uncertainty?.meanInLesion.toFixed(4)],
    ['uncertain_fraction', r.uncertainty?.highFraction.toFixed(4)],
    ['longest_diameter_mm', r.bidimensional?.longestMm.toFixed(1)],
    ['perpendicular_diameter_mm', r.bidimensional?.perpendicularMm.toFixed(1)],
    ['bidimensional_product_mm2', r.bidimensional?.productMm2.toFixed(0)],
    ['bidimensional_slice', r.bidimensional ? `${r.bidimensional.plane} ${r.bidimensional.k + 1}` : ''],
    ['model', r.model ? `${r.model.name} ${r.model.version}` : ''],
    // one cell, so rows of cases with other segments still line up: "Whole tumour=12.345 ml; ..."
    ['segment_volumes_ml', r.segments?.map((s) => `${s.name}=${s.volumeMl.toFixed(3)}`).join('; ')],
    ['case_root', r.caseRoot],
  ];
  return `${cols.map((c) => c[0]).join(',')}\n${cols.map((c) => csvCell(c[1])).join(',')}\n`;
}

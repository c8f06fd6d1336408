/**
 * Slice interpolation (core/src/interpolate.ts, the real itk-wasm pipeline in Node) on every
 * TCGA-LGG expert mask: keep two axial slices `gap` apart mid-lesion, interpolate, Dice on the
 * slices between against the expert, beside the plain alternative of copying the nearer drawn
 * slice; and the time per call (crop + pipeline + merge) on a 256x256xN labelmap.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { morphologicalContourInterpolationNode } from '@itk-wasm/morphological-contour-interpolation';
import { type InterpolationPipeline, interpolateLabels } from '../core/src/interpolate.ts';
import { loadVolume } from '../core/src/node/load.ts';
import type { BenchRow } from './types.ts';

export const title = 'slice interpolation on TCGA-LGG expert masks';

const DATA = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'data', 'tcga-lgg');
const pipeline: InterpolationPipeline = async (image, axis) =>
  (await morphologicalContourInterpolationNode(image, { label: 1, axis })).outputImage.data as Uint8Array;
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];

export async function run(): Promise<BenchRow[]> {
  const gaps = [3, 5];
  const dice: Record<number, { mci: number[]; nearest: number[] }> = {};
  for (const g of gaps) dice[g] = { mci: [], nearest: [] };
  const ms: number[] = [];
  for (const p of readdirSync(DATA).filter((d) => d.startsWith('TCGA'))) {
    const v = await loadVolume(join(DATA, p, 'seg.nii.gz'));
    const [nx, ny, nz] = v.dims;
    const n = nx * ny;
    const truth = Uint8Array.from(v.data as ArrayLike<number>, (x) => (x ? 1 : 0));
    const has = (k: number) => truth.subarray(k * n, (k + 1) * n).some((x) => x === 1);
    const ks = [...Array(nz).keys()].filter(has);
    const mid = ks[ks.length >> 1];
    for (const gap of gaps) {
      const k1 = mid - (gap >> 1);
      const k2 = k1 + gap;
      if (k1 < 0 || k2 >= nz || !has(k1) || !has(k2)) continue;
      const labels = new Uint8Array(truth.length);
      for (const k of [k1, k2]) labels.set(truth.subarray(k * n, (k + 1) * n), k * n);
      const t0 = performance.now();
      const r = await interpolateLabels(labels, v.dims, v.spacing, 2, [1], pipeline);
      ms.push(performance.now() - t0);
      for (let q = 0; q < r.indices.length; q++) labels[r.indices[q]] = r.values[q];
      let [inter, a, b, nInter, nA] = [0, 0, 0, 0, 0];
      for (let k = k1 + 1; k < k2; k++) {
        const near = k - k1 <= k2 - k ? k1 : k2;
        for (let x = 0; x < n; x++) {
          const i = k * n + x;
          const c = truth[near * n + x];
          inter += labels[i] & truth[i];
          a += labels[i];
          b += truth[i];
          nInter += c & truth[i];
          nA += c;
        }
      }
      dice[gap].mci.push((2 * inter) / (a + b));
      dice[gap].nearest.push((2 * nInter) / (nA + b));
    }
  }
  const rows: BenchRow[] = [];
  for (const g of gaps) {
    const d = dice[g];
    const note = `${d.mci.length} patients; nearest drawn slice copied: mean ${mean(d.nearest).toFixed(3)}, median ${median(d.nearest).toFixed(3)}`;
    rows.push({
      group: 'interpolate',
      name: `Dice between, gap ${g} (mean)`,
      value: mean(d.mci),
      unit: '',
      note,
    });
    rows.push({
      group: 'interpolate',
      name: `Dice between, gap ${g} (median)`,
      value: median(d.mci),
      unit: '',
    });
  }
  rows.push({ group: 'interpolate', name: 'time per call (median)', value: median(ms), unit: 'ms' });
  rows.push({ group: 'interpolate', name: 'time per call (max)', value: Math.max(...ms), unit: 'ms' });
  return rows;
}

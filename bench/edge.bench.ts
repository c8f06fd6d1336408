/**
 * The whole-volume edge rule (core/src/contrast-grow.ts) on real FLAIR volumes: the time it adds to
 * a case once every slice is proposed. The proposal stands in as the expert mask eroded by one voxel
 * in-plane (mean 0.9 there, 0.3 over the rest of the head: every voxel of the band is a candidate,
 * the costliest case for the growth); the distance map, order statistics and growth are the real
 * code. A TCGA-LGG head (256 x 256 x N) and a 240 x 240 x 155 BraTS volume.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { edgeGrowth } from '../core/src/contrast-grow.ts';
import { voxelVolumeMl } from '../core/src/geometry.ts';
import { loadVolume } from '../core/src/node/load.ts';
import type { BenchRow } from './types.ts';

export const title = 'edge growth by the FLAIR contrast (whole volume)';

const DATA = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'data');
const CASES = [
  [
    'TCGA-LGG head',
    'tcga-lgg/TCGA_CS_6666_20011109/flair.nii.gz',
    'tcga-lgg/TCGA_CS_6666_20011109/seg.nii.gz',
  ],
  [
    'BraTS 240x240x155',
    'brats-4seq/brats2015-tcia-pat222/Flair.nii.gz',
    'brats-4seq/brats2015-tcia-pat222/segmentationWholeTumor.nii.gz',
  ],
] as const;
const RULE = { alpha: 0.5, bandMm: 3, minProbability: 0.05 };

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [name, flairPath, segPath] of CASES) {
    const flair = await loadVolume(join(DATA, flairPath));
    const seg = await loadVolume(join(DATA, segPath));
    const [nx, ny] = flair.dims;
    const n = flair.data.length;
    const mask = new Uint8Array(n);
    const prob = new Float32Array(n);
    for (let v = 0; v < n; v++) {
      const i = v % nx;
      const j = Math.floor(v / nx) % ny;
      const inner =
        seg.data[v] > 0 &&
        i > 0 &&
        i < nx - 1 &&
        j > 0 &&
        j < ny - 1 &&
        seg.data[v - 1] > 0 &&
        seg.data[v + 1] > 0 &&
        seg.data[v - nx] > 0 &&
        seg.data[v + nx] > 0;
      mask[v] = inner ? 1 : 0;
      prob[v] = inner ? 0.9 : flair.data[v] > 0 ? 0.3 : 0;
    }
    const ms: number[] = [];
    let ml = 0;
    for (let rep = 0; rep < 3; rep++) {
      const t0 = performance.now();
      ml = edgeGrowth(mask, prob, flair.data, flair.dims, flair.spacing, voxelVolumeMl(flair), RULE).ml;
      ms.push(performance.now() - t0);
    }
    rows.push({
      group: 'edge',
      name: `${name}, per case (best of 3)`,
      value: Math.min(...ms),
      unit: 'ms',
      note: `${flair.dims.join('x')}; ${ml.toFixed(1)} mL added to the eroded reference`,
    });
  }
  return rows;
}

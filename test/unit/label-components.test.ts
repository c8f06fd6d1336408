/**
 * Every proposed lesion as a list (labelComponents): on real expert masks, the same components as
 * growing connectedComponent from each voxel not yet reached, with their slice ranges and centres.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectedComponent, labelComponents } from '../../core/src/components.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { DATA } from '../helpers/paths.ts';

describe('labelComponents', () => {
  for (const patient of ['TCGA_DU_A5TY_19970709', 'TCGA_FG_A60K_20040224'])
    it(`lists the components of the real ${patient} reference as connectedComponent grows them`, async () => {
      const seg = await loadVolume(join(DATA, 'tcga-lgg', patient, 'seg.nii.gz'));
      const labels = Uint8Array.from(seg.data, (v) => (v > 0 ? 1 : 0));
      const [nx, ny] = seg.dims;
      const reached = new Uint8Array(labels.length);
      const oracle: { seed: number; voxels: number; kRange: [number, number] }[] = [];
      for (let n = 0; n < labels.length; n++) {
        if (!labels[n] || reached[n]) continue;
        const comp = connectedComponent(labels, seg.dims, n, 1);
        for (const v of comp) reached[v] = 1;
        const ks = [...comp].map((v) => Math.floor(v / (nx * ny)));
        oracle.push({ seed: n, voxels: comp.length, kRange: [Math.min(...ks), Math.max(...ks)] });
      }
      oracle.sort((a, b) => b.voxels - a.voxels || a.seed - b.seed);
      const list = labelComponents(labels, seg.dims, 1);
      expect(list.map(({ seed, voxels, kRange }) => ({ seed, voxels, kRange }))).toEqual(oracle);
      expect(list.length).toBeGreaterThan(0);
      // the centre of the largest lies within its slice range; listing from the slices that hold
      // the lesion only gives the same list
      const [k1, k2] = list[0].kRange;
      expect(list[0].centroid[2]).toBeGreaterThanOrEqual(k1);
      expect(list[0].centroid[2]).toBeLessThanOrEqual(k2);
      const slices = new Set<number>();
      for (let n = 0; n < labels.length; n++) if (labels[n]) slices.add(Math.floor(n / (nx * ny)));
      expect(labelComponents(labels, seg.dims, 1, slices)).toEqual(list);
      console.log(`${patient}: ${list.length} components, ${list.map((c) => c.voxels).join(', ')} voxels`);
    });
});

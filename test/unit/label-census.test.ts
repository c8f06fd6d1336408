/**
 * The labelmap census behind the panels' volumes and the pending-slice list: on the real A5TY
 * reference (as a segment) with a pending proposal drawn over part of it, the counts after each
 * announced change equal a fresh count of the whole labelmap, and only announced slices are recounted.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bidimensional } from '../../core/src/diameters.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { LabelCensus } from '../../renderer/src/lib/label-census.ts';
import { PENDING } from '../../renderer/src/lib/label-values.ts';
import { DATA } from '../helpers/paths.ts';

const fresh = (labels: Uint8Array) => {
  const out = new Float64Array(256);
  for (const v of labels) out[v]++;
  return out;
};

describe('LabelCensus', () => {
  it('counts a real labelmap per value, recounts the slices it is told of, and lists pending slices', async () => {
    const seg = await loadVolume(join(DATA, 'tcga-lgg', 'TCGA_DU_A5TY_19970709', 'seg.nii.gz'));
    const [nx, ny, nz] = seg.dims;
    const plane = nx * ny;
    const labels = Uint8Array.from(seg.data, (v) => (v > 0 ? 1 : 0));
    const census = new LabelCensus(labels, plane);
    expect([...census.counts()]).toEqual([...fresh(labels)]);
    const lesion = census.counts()[1];
    expect(lesion).toBeGreaterThan(1000);
    expect(census.pendingSlices()).toEqual([]);

    // a proposal pending on the lesion's slices, over the background of their left half
    const ks: number[] = [];
    for (let k = 0; k < nz; k++) {
      let has = false;
      for (let n = k * plane; n < (k + 1) * plane; n++) has ||= labels[n] === 1;
      if (!has) continue;
      ks.push(k);
      for (let n = k * plane; n < (k + 1) * plane; n++)
        if (n % nx < nx / 2 && labels[n] === 0) labels[n] = PENDING;
    }
    expect(ks.length).toBeGreaterThan(3);
    // not yet told: the old counts stand (nothing recounts the whole volume on its own)
    expect(census.counts()[PENDING]).toBe(0);
    census.changed(ks);
    expect([...census.counts()]).toEqual([...fresh(labels)]);
    expect(census.pendingSlices()).toEqual(ks);

    // accept one slice's pending voxels into the segment; reject another's
    const [a, r] = [ks[1], ks[2]];
    for (let n = a * plane; n < (a + 1) * plane; n++) if (labels[n] === PENDING) labels[n] = 1;
    for (let n = r * plane; n < (r + 1) * plane; n++) if (labels[n] === PENDING) labels[n] = 0;
    census.changed([a, r, -1, nz]);
    expect([...census.counts()]).toEqual([...fresh(labels)]);
    expect(census.counts()[1]).toBeGreaterThan(lesion);
    expect(census.pendingSlices()).toEqual(ks.filter((k) => k !== a && k !== r));

    // what is derived from whole labels is kept until the next change, then made again
    const lesions = census.components(PENDING, seg.dims);
    expect(lesions.reduce((n, c) => n + c.voxels, 0)).toBe(census.counts()[PENDING]);
    expect(census.components(PENDING, seg.dims)).toBe(lesions);
    const measure = census.bidimensional(1, seg);
    expect(measure).toEqual(bidimensional(labels, seg, 1));
    const biggest = lesions[0];
    for (let n = 0; n < labels.length; n++) if (labels[n] === PENDING && n >= biggest.seed) labels[n] = 0;
    census.changed(ks);
    expect(census.components(PENDING, seg.dims)).not.toBe(lesions);
    expect(census.components(PENDING, seg.dims).reduce((n, c) => n + c.voxels, 0)).toBe(
      census.counts()[PENDING],
    );
    expect(census.bidimensional(1, seg)).toEqual(measure);

    // everything cleared ("Start over"), told without slices
    labels.fill(0);
    census.changed();
    expect(census.counts()[0]).toBe(labels.length);
    expect(census.pendingSlices()).toEqual([]);
  });
});

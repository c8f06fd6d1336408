import { type Component, labelComponents } from '../../../core/src/components.ts';
import { type Bidimensional, bidimensional } from '../../../core/src/diameters.ts';
import type { Volume } from '../../../core/src/volume.ts';
import { PENDING } from './label-values.ts';

/**
 * Voxels per label value in the labelmap, kept per slice k so that an edit recounts only the
 * slices it changed (a stroke, an accept, an undo) rather than the whole volume on every repaint.
 * The Segments panel shows each segment's volume from it (as Slicer's Segment Statistics and
 * ITK-SNAP's label volumes do), the Proposal panel the pending proposal's, and the slices with
 * pending voxels come from it too. What is derived from whole labels (a segment's RANO
 * measurement, the list of proposed lesions) is kept until the next change.
 */
export class LabelCensus {
  /** Counts of slice k at [256 k, 256 k + 256). */
  private readonly perSlice: Uint32Array;
  private readonly total = new Float64Array(256);
  private readonly stale = new Set<number>();
  /** Goes up at every change: what was derived from the labelmap at another one is stale. */
  generation = 0;

  constructor(
    private readonly labels: Uint8Array,
    private readonly sliceSize: number,
  ) {
    const nz = Math.floor(labels.length / sliceSize);
    this.perSlice = new Uint32Array(256 * nz);
    this.changed();
  }

  /** The labelmap changed on these slices (all of them when not said). */
  changed(slices?: Iterable<number>): void {
    this.generation++;
    const nz = this.perSlice.length / 256;
    for (const k of slices ?? Array.from({ length: nz }, (_, k) => k))
      if (k >= 0 && k < nz) this.stale.add(k);
  }

  /** Voxels of each label value (index = value), recounting what changed since the last call. */
  counts(): Float64Array {
    for (const k of this.stale) {
      const row = this.perSlice.subarray(256 * k, 256 * k + 256);
      for (let v = 0; v < 256; v++) this.total[v] -= row[v];
      row.fill(0);
      const end = (k + 1) * this.sliceSize;
      for (let i = k * this.sliceSize; i < end; i++) row[this.labels[i]]++;
      for (let v = 0; v < 256; v++) this.total[v] += row[v];
    }
    this.stale.clear();
    return this.total;
  }

  /** The slices k holding voxels of label `value`, in order. */
  slicesWith(value: number): number[] {
    this.counts();
    const out: number[] = [];
    for (let k = 0; k < this.perSlice.length / 256; k++) if (this.perSlice[256 * k + value] > 0) out.push(k);
    return out;
  }

  /** The slices k holding pending (proposed, not yet accepted) voxels, in order. */
  pendingSlices(): number[] {
    return this.slicesWith(PENDING);
  }

  private readonly memo = new Map<string, { generation: number; value: unknown }>();
  private derived<T>(key: string, make: () => T): T {
    const m = this.memo.get(key);
    if (m?.generation === this.generation) return m.value as T;
    const value = make();
    this.memo.set(key, { generation: this.generation, value });
    return value;
  }

  /** The RANO measurement of label `value` (core/src/diameters.ts), remade only after a change. */
  bidimensional(
    value: number,
    grid: Pick<Volume, 'dims' | 'spacing' | 'direction'>,
  ): Bidimensional | undefined {
    return this.derived(`rano ${value}`, () =>
      bidimensional(this.labels, grid, value, this.slicesWith(value)),
    );
  }

  /** The 3D components of label `value`, largest first (core/src/components.ts), remade only after a change. */
  components(value: number, dims: Volume['dims']): Component[] {
    return this.derived(`components ${value}`, () =>
      labelComponents(this.labels, dims, value, this.slicesWith(value)),
    );
  }
}

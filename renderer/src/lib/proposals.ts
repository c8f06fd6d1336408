import type { SliceResult } from '../../../core/src/api.ts';
import { LESION, PENDING } from './label-values.ts';

/** What is kept of a streamed slice result (the std goes into the uncertainty volume). */
export interface SliceRecord {
  k: number;
  score: number;
  memberCount: number;
  width: number;
  height: number;
  members?: Uint8Array[];
  lesionVoxels: number;
  reviewed: boolean;
}

/**
 * Proposal results of the open case: per-slice scores for "next most uncertain slice", member
 * masks for browsing, the uncertainty (std) volume and the pending proposal in the labelmap.
 */
export class ProposalStore {
  readonly slices = new Map<number, SliceRecord>();
  readonly uncertainty: Float32Array;

  constructor(
    private readonly labels: Uint8Array,
    private readonly sliceSize: number,
  ) {
    this.uncertainty = new Float32Array(labels.length);
  }

  /**
   * Writes one slice: std into the uncertainty volume; the mask as PENDING where the labelmap is
   * empty, and clears old PENDING voxels the new mask drops. Accepted lesion voxels stay.
   */
  add(r: SliceResult): void {
    const off = r.k * this.sliceSize;
    this.uncertainty.set(r.std, off);
    let lesion = 0;
    for (let i = 0; i < this.sliceSize; i++) {
      const v = this.labels[off + i];
      if (r.mask[i]) {
        lesion++;
        if (v === 0) this.labels[off + i] = PENDING;
      } else if (v === PENDING) this.labels[off + i] = 0;
    }
    this.slices.set(r.k, {
      k: r.k,
      score: r.score,
      memberCount: r.memberCount,
      width: r.width,
      height: r.height,
      members: r.members,
      lesionVoxels: lesion,
      reviewed: false,
    });
  }

  markReviewed(slices: number[]): void {
    for (const k of slices) {
      const s = this.slices.get(k);
      if (s) s.reviewed = true;
    }
  }

  /**
   * The most uncertain slice not yet reviewed (accepted/rejected); when all are reviewed, the
   * next one after `current` in order of decreasing score.
   */
  nextUncertain(current: number): number | undefined {
    const ranked = [...this.slices.values()].sort((a, b) => b.score - a.score || a.k - b.k);
    if (ranked.length === 0) return undefined;
    const open = ranked.find((s) => !s.reviewed && s.k !== current);
    if (open) return open.k;
    const at = ranked.findIndex((s) => s.k === current);
    return ranked[(at + 1) % ranked.length].k;
  }

  proposedSlices(): number[] {
    return [...this.slices.keys()].sort((a, b) => a - b);
  }

  /**
   * Export label map: every segment's voxels with its value, and the pending proposal, if asked,
   * as `pendingAs` (the active segment's value: where accepting it would put it), else background.
   */
  exportMask(includePending: boolean, pendingAs = LESION): Uint8Array {
    const out = this.labels.slice();
    const to = includePending ? pendingAs : 0;
    for (let i = 0; i < out.length; i++) if (out[i] === PENDING) out[i] = to;
    return out;
  }
}

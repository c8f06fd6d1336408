import type { Vec3 } from '../../../core/src/volume.ts';
import type { SliceResult } from '../protocol.ts';

/**
 * A proposal's per-slice results assembled into volumes on the reference grid (0 where a slice
 * was not proposed): the mask, the std, the probability (mean over members) and, when the engine
 * kept them (ProposeRequest.keepMembers), each member's mask. What the export writers take.
 */
export class ProposalMaps {
  readonly mask: Uint8Array;
  readonly std: Float32Array;
  readonly probability: Float32Array;
  members?: Uint8Array[];
  private readonly plane: number;
  private readonly n: number;
  constructor(dims: Vec3) {
    this.plane = dims[0] * dims[1];
    this.n = this.plane * dims[2];
    this.mask = new Uint8Array(this.n);
    this.std = new Float32Array(this.n);
    this.probability = new Float32Array(this.n);
  }
  add(r: Pick<SliceResult, 'k' | 'mask' | 'std' | 'mean' | 'members'>): void {
    const at = r.k * this.plane;
    this.mask.set(r.mask, at);
    this.std.set(r.std, at);
    this.probability.set(r.mean, at);
    if (!r.members) return;
    // A run with another ensemble size starts the member volumes afresh: members of different
    // runs are not the same draws, so they are never mixed into one file.
    if (this.members?.length !== r.members.length) this.members = r.members.map(() => new Uint8Array(this.n));
    for (const [m, plane] of r.members.entries()) this.members[m].set(plane, at);
  }
  /** The maps only proposals have (the mask and std exported are the caller's: edited, or the host's). */
  forExport(): { probability: Float32Array; members?: Uint8Array[] } {
    return { probability: this.probability, members: this.members };
  }
}

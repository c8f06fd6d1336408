import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadVolume } from '../../../core/src/node/load.ts';
import type { Vec3 } from '../../../core/src/volume.ts';
import type { SliceResult } from '../protocol.ts';

/**
 * A proposal's per-slice results assembled into volumes on the reference grid (0 where a slice
 * was not proposed): the mask, the std, the probability (mean over members) and, when the engine
 * kept them (ProposeRequest.keepMembers), each member's mask. What the export writers take.
 */
export class ProposalMaps {
  /** Empty when not kept (the host keeps its own labelmap and uncertainty; it needs only the rest). */
  readonly mask: Uint8Array;
  readonly std: Float32Array;
  readonly probability: Float32Array;
  members?: Uint8Array[];
  private readonly plane: number;
  private readonly n: number;
  constructor(dims: Vec3, opts: { maskAndStd?: boolean } = {}) {
    this.plane = dims[0] * dims[1];
    this.n = this.plane * dims[2];
    const keep = opts.maskAndStd ?? true;
    this.mask = new Uint8Array(keep ? this.n : 0);
    this.std = new Float32Array(keep ? this.n : 0);
    this.probability = new Float32Array(this.n);
  }
  add(r: Pick<SliceResult, 'k' | 'mask' | 'std' | 'mean' | 'members'>): void {
    const at = r.k * this.plane;
    if (this.mask.length) {
      this.mask.set(r.mask, at);
      this.std.set(r.std, at);
    }
    this.probability.set(r.mean, at);
    if (!r.members) return;
    // A run with another ensemble size starts the member volumes afresh: members of different
    // runs are not the same draws, so they are never mixed into one file.
    if (this.members?.length !== r.members.length) this.members = r.members.map(() => new Uint8Array(this.n));
    for (const [m, plane] of r.members.entries()) this.members[m].set(plane, at);
  }
  /**
   * The probability map and member masks of a proposal folder, when it has them (written with
   * --export or PrelabelParams.exports): what an export after loadProposal writes. Files on another
   * grid than `dims` are left out (the proposal check of loadProposal reports that case).
   */
  static async read(dir: string, dims: Vec3): Promise<ProposalMaps> {
    const maps = new ProposalMaps(dims, { maskAndStd: false });
    let outputs: string[] = [];
    try {
      outputs =
        (JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { outputs?: string[] }).outputs ?? [];
    } catch {}
    const load = async (f: string) => {
      const v = await loadVolume(join(dir, f));
      return v.data.length === maps.n ? v.data : undefined;
    };
    if (existsSync(join(dir, 'probability.nii.gz'))) {
      const p = await load('probability.nii.gz');
      if (p) maps.probability.set(p);
    }
    const members = outputs
      .filter((f) => /^members\/member-\d+\.nii\.gz$/.test(f))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    const loaded = await Promise.all(members.map(load));
    if (loaded.length && loaded.every((m) => m)) maps.members = loaded.map((m) => Uint8Array.from(m!));
    return maps;
  }

  /** The maps only proposals have (the mask and std exported are the caller's: edited, or the host's). */
  forExport(): { probability: Float32Array; members?: Uint8Array[] } {
    return { probability: this.probability, members: this.members };
  }
}

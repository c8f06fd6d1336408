import { binaryEntropy, sliceAgreement, uncertaintyScore } from '../../../core/src/metrics.ts';
import type { ModelFrame } from '../../../core/src/model-frame.ts';
import type { EngineSliceResult } from '../protocol.ts';

/** Mean and std maps on a native axial plane -> the mask and scores a SliceResult carries. */
export function planeResult(
  k: number,
  mean: Float32Array,
  std: Float32Array,
  pixelArea: number,
  frame: Pick<ModelFrame, 'dims'>,
  memberCount: number,
): Omit<EngineSliceResult, 'agreement'> {
  const n = mean.length;
  const mask = new Uint8Array(n);
  const entropy = new Float32Array(n);
  let lesion = 0;
  for (let i = 0; i < n; i++) {
    mask[i] = mean[i] > 0.5 ? 1 : 0;
    lesion += mask[i];
    entropy[i] = binaryEntropy(mean[i]);
  }
  return {
    k,
    width: frame.dims[0],
    height: frame.dims[1],
    mean,
    mask,
    std,
    entropy,
    memberCount,
    score: uncertaintyScore(std, pixelArea),
    lesionAreaMm2: lesion * pixelArea,
  };
}

/**
 * Whole native volumes built from model slices that do not run along voxel axis 2 (a sagittal-
 * or coronal-ordered file): every model slice crosses every native k, so results per k exist
 * only once all model slices are placed.
 */
export class VolumeAssembly {
  private readonly mean: Float32Array;
  private readonly std: Float32Array;
  private readonly members: Uint8Array[];
  private readonly dims: [number, number, number];

  constructor(
    private readonly frame: ModelFrame,
    members: number,
  ) {
    this.dims = [...frame.dims];
    const n = this.dims[0] * this.dims[1] * this.dims[2];
    this.mean = new Float32Array(n);
    this.std = new Float32Array(n);
    // member masks are always kept: the per-k member agreement needs them
    this.members = Array.from({ length: members }, () => new Uint8Array(n));
  }

  /** Places model slice k's native planes (mean, std, member masks: sliceResult with members). */
  add(k: number, r: Pick<EngineSliceResult, 'mean' | 'std' | 'members'>): void {
    const axis = this.frame.sliceAxis;
    const [lowAxis, highAxis] = [0, 1, 2].filter((a) => a !== axis);
    const stride = [1, this.dims[0], this.dims[0] * this.dims[1]];
    const nLow = this.dims[lowAxis];
    const nHigh = this.dims[highAxis];
    // the planes are stored as a volume stores them: the lower remaining axis fastest
    for (let q = 0, p = 0; q < nHigh; q++) {
      const row = k * stride[axis] + q * stride[highAxis];
      for (let s = 0; s < nLow; s++, p++) {
        const idx = row + s * stride[lowAxis];
        this.mean[idx] = r.mean[p];
        this.std[idx] = r.std[p];
        for (const [m, vol] of this.members.entries()) vol[idx] = r.members![m][p];
      }
    }
  }

  /** The result of native axial plane k (voxel axis 2) from the assembled volumes. */
  axial(k: number, pixelArea: number, keepMembers?: boolean): EngineSliceResult {
    const n = this.dims[0] * this.dims[1];
    const mean = this.mean.slice(k * n, (k + 1) * n);
    const members = this.members.map((v) => v.slice(k * n, (k + 1) * n));
    const result: EngineSliceResult = {
      ...planeResult(k, mean, this.std.slice(k * n, (k + 1) * n), pixelArea, this.frame, members.length),
      // on the native plane here (the model grid crosses it): same sums, finer pixels
      agreement: sliceAgreement(members, mean),
    };
    if (keepMembers) result.members = members;
    return result;
  }
}

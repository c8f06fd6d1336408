import { QuorumError } from '../../../core/src/errors.ts';
import type { ModelFrame } from '../../../core/src/model-frame.ts';
import { propagateClicks } from '../../../core/src/prompt-propagation.ts';
import type { ModelClick } from '../../../core/src/prompts.ts';
import type { ProposeRequest } from '../protocol.ts';
import type { BatchSampler } from './sample-batch.ts';
import type { LoadedModel } from './session.ts';

/** Slices each side of a negative click whose current proposal is sampled up front, together. */
const PREFETCH_SLICES = 3;

/** Cancelling a prompt run's planning unwinds through propagateClicks as this. */
class Cancelled extends Error {}

/**
 * A propose request's prompts on this model and case: checked (the model must take prompts),
 * turned into model-grid clicks, then spread over the
 * slices of the lesions they land in (core/src/prompt-propagation.ts) by proposing slices one at
 * a time. The result is each touched slice's clicks, for the final pass of propose().
 */
export function promptPlan(model: LoadedModel, frame: ModelFrame, req: ProposeRequest) {
  const { manifest } = model;
  const prompts = req.prompts!;
  if (!manifest.prompts)
    throw new QuorumError(
      'bad-argument',
      `the model ${manifest.name} ${manifest.version} takes no prompts (its manifest.json has no "prompts"); propose without --prompts or use a prompt model`,
      req.caseName,
    );
  if (!frame.modelPoint)
    throw new QuorumError(
      'unsupported',
      `the preprocessing of ${manifest.name} ${manifest.version} cannot place clicks on its grid; use a model with head-robust-v2 preprocessing`,
      req.caseName,
    );
  const [H, W] = manifest.preprocess.inputSize;
  const clicks: ModelClick[] = prompts.points.map((p) => ({
    ...frame.modelPoint!(p.ijk),
    positive: p.positive,
  }));
  // Protected slices are native k (voxel axis 2). In a file stored along another axis each model
  // slice crosses every k, so none can be left out: there the user's voxels are kept by the viewer
  // alone (Refine changes only pending voxels, refine.ts).
  const protect = new Set(frame.sliceAxis === 2 ? (prompts.protect ?? []) : []);

  return {
    clicks,
    /** The user's clicks on each of `slices` they land on (not protected), as propagation starts from them. */
    clickedSlices(slices: number[]): Map<number, ModelClick[]> {
      const allowed = new Set(slices.filter((k) => !protect.has(k)));
      const out = new Map<number, ModelClick[]>();
      for (const c of clicks) if (allowed.has(c.slice)) out.set(c.slice, [...(out.get(c.slice) ?? []), c]);
      return out;
    },
    async plan(sampler: BatchSampler, slices: number[]): Promise<Map<number, ModelClick[]> | 'cancelled'> {
      const mask = async (k: number, c: ModelClick[]) => {
        const x = await sampler.sample([k], [c]);
        if (x === 'cancelled') throw new Cancelled();
        // the proposal's mask: mean over members of (x0 + 1) / 2 > 0.5, i.e. mean x0 > 0
        const members = x[0].length / (H * W);
        const out = new Uint8Array(H * W);
        for (let i = 0; i < H * W; i++) {
          let s = 0;
          for (let m = 0; m < members; m++) s += Math.max(-1, Math.min(1, x[0][m * H * W + i]));
          out[i] = s > 0 ? 1 : 0;
        }
        return out;
      };
      const allowed = slices.filter((k) => !protect.has(k));
      // the current proposal around each negative click, in one batch (the ONNX call is cheaper
      // per image in batches), at its first use (after a lone click's slice has been sent):
      // propagation then reads it slice by slice from the sampler's memory
      const near = new Set<number>();
      for (const c of clicks)
        if (!c.positive) for (const k of allowed) if (Math.abs(k - c.slice) <= PREFETCH_SLICES) near.add(k);
      const current = async (k: number) => {
        if (near.size) {
          const batch = [...near].sort((a, b) => a - b);
          near.clear();
          if (
            (await sampler.sample(
              batch,
              batch.map(() => [] as ModelClick[]),
            )) === 'cancelled'
          )
            throw new Cancelled();
        }
        return mask(k, []);
      };
      try {
        return await propagateClicks(clicks, { H, W, slices: allowed }, mask, current);
      } catch (e) {
        if (e instanceof Cancelled) return 'cancelled';
        throw e;
      }
    },
  };
}

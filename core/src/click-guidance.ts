import type { X0Guide } from './diffusion/sampler.ts';
import type { ModelClick } from './prompts.ts';

/**
 * How the user's clicks steer the sampler beyond the model's click channels (issue 12). v2.2
 * follows a click in its channels only where the image agrees, so a lone click on a lesion it
 * missed was ignored. The sampler therefore also pulls each step's predicted x0 toward +1 under a
 * positive click and -1 under a negative one (replacement guidance, core/src/diffusion/sampler.ts
 * X0Guide): the click holds lesion (or none) in every member, and the network, which sees x_t,
 * grows or shrinks it to what the image shows. Members still differ by their noise elsewhere, so
 * the ensemble's spread is still the uncertainty.
 */
export interface ClickGuidance {
  /**
   * The weight's Gaussian width in click-channel sigmas, per sign. A positive click marks a
   * lesion v2.2 missed, whose seed it grows little (so a wide one); a negative click often trims
   * a lesion drawn too wide, where a wide disc cuts into the real lesion.
   */
  width: { positive: number; negative: number };
  /** Peak weight of a user's click. */
  user: number;
  /**
   * Peak weight of a click placed by propagation (its place may hold no lesion in truth). Never
   * at the last step: there the network alone decides whether the lesion goes on, which is what
   * propagation reads to stop. 0 (the click channel only): at 0.5 the seed still survived to the
   * last step and a positive click on TCGA_DU_A5TY was followed through all 33 slices.
   */
  propagated: number;
}

/** Chosen on the simulated user (README, "Prompts: clicks that re-propose"). */
export const CLICK_GUIDANCE: ClickGuidance = {
  width: { positive: 3.5, negative: 2.5 },
  user: 1,
  propagated: 0,
};

/**
 * One model slice's guide [H * W] at step `step` of `steps` from its clicks, or undefined when
 * none steers: each click a Gaussian weight of peak `user` or `propagated` (none at the last
 * step), the strongest click deciding a pixel's target.
 */
export function clickGuide(
  clicks: readonly ModelClick[],
  H: number,
  W: number,
  sigmaPx: number,
  step: number,
  steps: number,
  g: ClickGuidance = CLICK_GUIDANCE,
): X0Guide | undefined {
  const last = step === steps - 1;
  const peakOf = (c: ModelClick) => (!c.propagated ? g.user : last ? 0 : g.propagated);
  const steering = clicks.filter((c) => peakOf(c) > 0);
  if (!steering.length) return undefined;
  const weight = new Float32Array(H * W);
  const target = new Float32Array(H * W);
  for (const c of steering) {
    const peak = peakOf(c);
    const sigma = sigmaPx * (c.positive ? g.width.positive : g.width.negative);
    const r = Math.ceil(3 * sigma);
    for (let y = Math.max(0, Math.floor(c.row - r)); y <= Math.min(H - 1, Math.ceil(c.row + r)); y++)
      for (let x = Math.max(0, Math.floor(c.col - r)); x <= Math.min(W - 1, Math.ceil(c.col + r)); x++) {
        const w = peak * Math.exp(-((y - c.row) ** 2 + (x - c.col) ** 2) / (2 * sigma * sigma));
        const i = y * W + x;
        if (w > weight[i]) {
          weight[i] = w;
          target[i] = c.positive ? 1 : -1;
        }
      }
  }
  return { weight, target };
}

import { SAMPLER_REGISTRY } from './diffusion/samplers.ts';
import { QuorumError } from './errors.ts';
import { SAMPLERS, type SamplerName } from './lists.ts';
import type { ModelManifest } from './manifest.ts';
import { oneOf } from './registry.ts';

/** How a proposal samples: the ensemble size, the sampler and its settings. */
export interface SamplingSettings {
  members: number;
  steps: number;
  sampler: SamplerName;
  eta: number;
}

/** Used only when there is no manifest to read (no model installed): what both shipped models recommend. */
export const FALLBACK_SAMPLING: SamplingSettings = { sampler: 'ddim', steps: 10, members: 5, eta: 1 };

/**
 * The one place sampling settings are resolved: what was asked for, else the model manifest's
 * `recommended`, else FALLBACK_SAMPLING. The renderer's panels, the host, the CLI and the engine
 * all call this (no tier keeps defaults of its own). A sampler defined on a fixed number of
 * steps (DDPM: every step of the schedule) gets that number whatever was asked.
 */
export function resolveSampling(
  manifest: Pick<ModelManifest, 'recommended' | 'schedule'> | undefined,
  asked: Partial<SamplingSettings> = {},
): SamplingSettings {
  const rec = manifest?.recommended ?? FALLBACK_SAMPLING;
  const sampler = oneOf('sampler', SAMPLERS, asked.sampler ?? rec.sampler);
  const members = asked.members ?? rec.members;
  const eta = asked.eta ?? rec.eta;
  const T = manifest?.schedule.timesteps;
  const fixed = T === undefined ? undefined : SAMPLER_REGISTRY.get(sampler).fixedSteps?.(T);
  const steps = fixed ?? asked.steps ?? rec.steps;
  if (!(members >= 1 && members <= 64))
    throw new QuorumError('bad-argument', `members must be 1..64, got ${members}`);
  if (!(steps >= 1)) throw new QuorumError('bad-argument', `steps must be >= 1, got ${steps}`);
  return { members, steps, sampler, eta };
}

import type { SamplerName } from '../lists.ts';
import { Registry } from '../registry.ts';
import { ddim } from './ddim.ts';
import { ddpm } from './ddpm.ts';
import type { Sampler, SamplerEntry, SamplerOptions } from './sampler.ts';
import type { Prediction, Schedule } from './schedule.ts';

export { DdimSampler } from './ddim.ts';
export { DdpmSampler } from './ddpm.ts';
export type { Sampler, SamplerEntry, StepOutput, X0Guide } from './sampler.ts';

/**
 * The samplers by name. A new sampler: its name in SAMPLERS (core/src/lists.ts), its file here
 * (a Sampler, usually a ScheduledSampler, and its SamplerEntry) and one line below.
 */
export const SAMPLER_REGISTRY = new Registry<SamplerName, SamplerEntry>('sampler', {
  ddim,
  ddpm,
});

/** A sampler by name; unknown names are refused with the allowed ones. */
export function createSampler(
  name: SamplerName,
  schedule: Schedule,
  prediction: Prediction,
  opts: SamplerOptions,
): Sampler {
  return SAMPLER_REGISTRY.get(name).create(schedule, prediction, opts);
}

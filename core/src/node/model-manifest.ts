import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isEdgeRule } from '../contrast-grow.ts';
import { QuorumError } from '../errors.ts';
import { isIslandRule } from '../islands.ts';
import { CROP_MODES } from '../lists.ts';
import type { ModelManifest } from '../manifest.ts';

/** The manifest's post-processing rules: the key under recommended, its check, the shape a message shows. */
const POSTPROCESSING_RULES = [
  ['dropIslands', isIslandRule, '{"belowMl": mL > 0, "uncertaintyAtLeast": a number >= 0}'],
  ['growEdge', isEdgeRule, '{"alpha": 0..1, "bandMm": mm in (0, 50], "minProbability": 0..0.5}'],
] as const satisfies readonly (readonly [string, (x: unknown) => boolean, string])[];

/**
 * A model folder's manifest.json, read and checked where a wrong value would otherwise surface late
 * (a crop mode, a post-processing rule, the network files' list), without onnxruntime: the engine
 * reads it before loading the networks (workers/src/engine/session.ts), `quorum info` to show a
 * model's card. Errors name the manifest.
 */
export function readManifest(modelDir: string): ModelManifest {
  const path = join(modelDir, 'manifest.json');
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as ModelManifest;
  } catch (e) {
    throw new QuorumError('model', `cannot read the model manifest (${(e as Error).message})`, path);
  }
  const crop = manifest.recommended?.crop;
  if (crop !== undefined && !(CROP_MODES as readonly unknown[]).includes(crop))
    throw new QuorumError(
      'model',
      `recommended.crop is '${String(crop)}' (allowed: ${CROP_MODES.join(', ')})`,
      path,
    );
  for (const [key, valid, shape] of POSTPROCESSING_RULES) {
    const rule = (manifest.recommended as Record<string, unknown> | undefined)?.[key];
    if (rule !== undefined && !valid(rule))
      throw new QuorumError('model', `recommended.${key} must be ${shape}`, path);
  }
  const networks = manifest.networks as unknown;
  if (
    networks !== undefined &&
    !(Array.isArray(networks) && networks.length > 0 && networks.every((f) => typeof f === 'string' && f))
  )
    throw new QuorumError(
      'model',
      'networks must be a list of ONNX file names (relative to the manifest)',
      path,
    );
  return manifest;
}

import { join } from 'node:path';
import { type ModelFrame, modelFrame } from '../../core/src/model-frame.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { type LoadedModel, loadModel } from '../../workers/src/engine/session.ts';
import { DATA, REPO } from './paths.ts';

/**
 * The shipped v2 network on CPU and the model frame of a real unseen-site TCGA-LGG head
 * (FG_6689), with its middle slice: what the sampler tests (flipped members, shared first step)
 * run on.
 */
export async function shippedModelOnSlice(): Promise<{ model: LoadedModel; frame: ModelFrame; k: number }> {
  const model = await loadModel(join(REPO, 'models', 'quorum-wt-v2'), 'cpu');
  const dir = join(DATA, 'tcga-lgg', 'TCGA_FG_6689_20020326');
  const [flair, t1c] = await Promise.all([
    loadVolume(join(dir, 'flair.nii.gz')),
    loadVolume(join(dir, 't1c.nii.gz')),
  ]);
  const frame = modelFrame({ flair, t1c }, model.manifest);
  return { model, frame, k: frame.slices[Math.floor(frame.slices.length / 2)] };
}

import { QuorumError } from '../../../../core/src/errors.ts';
import { sameGrid } from '../../../../core/src/geometry.ts';
import { dice, hd95, volumeMl } from '../../../../core/src/metrics.ts';
import { readLabelsFile } from '../../../../core/src/node/labels-file.ts';
import { loadVolume } from '../../../../core/src/node/load.ts';
import type { Volume } from '../../../../core/src/volume.ts';
import { type CommandSpec, numFlag, parseCommand } from '../args.ts';

export const summary =
  'compare a predicted mask with a reference label: Dice, HD95 (mm), volumes, per slice (JSON)';

const SPEC: CommandSpec = {
  usage: `usage: quorum evaluate --pred mask.nii.gz --truth label.nii.gz|seg.dcm [--truth-threshold 0] [--pred-threshold 0]
  Voxels above a threshold count as lesion (labels 1-4 are all lesion with the default 0). A truth on
  another grid is resampled onto the prediction's (nearest neighbour, world coordinates); a DICOM SEG
  truth is placed by its frames' positions (as a case opened with labels, core/src/labels.ts).`,
  options: {
    pred: { type: 'string' },
    truth: { type: 'string' },
    'truth-threshold': { type: 'string' },
    'pred-threshold': { type: 'string' },
  },
  maxPositionals: 0,
};

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (args === 'help') {
    console.log(SPEC.usage);
    return 0;
  }
  const { flags } = args;
  if (typeof flags.pred !== 'string' || typeof flags.truth !== 'string') {
    console.error(SPEC.usage);
    return 2;
  }
  const pred = await loadVolume(flags.pred);
  let truth: Pick<Volume, 'data'> = await loadVolume(flags.truth).catch(() => ({ data: new Uint8Array(0) }));
  // Another grid or a DICOM SEG: read as labels onto the prediction's grid (refusals name the file).
  if (truth.data.length === 0 || !sameGrid(pred, truth as Volume))
    truth = { data: (await readLabelsFile(flags.truth, pred)).labels };
  if (truth.data.length !== pred.data.length)
    throw new QuorumError(
      'inconsistent-series',
      'the truth could not be placed on the prediction grid',
      flags.truth,
    );
  const tt = numFlag(flags, 'truth-threshold') ?? 0;
  const pt = numFlag(flags, 'pred-threshold') ?? 0;
  const n = pred.data.length;
  const p = new Uint8Array(n);
  const t = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    p[i] = pred.data[i] > pt ? 1 : 0;
    t[i] = truth.data[i] > tt ? 1 : 0;
  }
  const [nx, ny, nz] = pred.dims;
  const plane = nx * ny;
  const perSlice = [];
  for (let k = 0; k < nz; k++) {
    const ps = p.subarray(k * plane, (k + 1) * plane);
    const ts = t.subarray(k * plane, (k + 1) * plane);
    let a = 0;
    let b = 0;
    for (let i = 0; i < plane; i++) {
      a += ps[i];
      b += ts[i];
    }
    if (a || b) perSlice.push({ k, dice: dice(ps, ts), predVoxels: a, truthVoxels: b });
  }
  const result = {
    pred: flags.pred,
    truth: flags.truth,
    dice: dice(p, t),
    hd95Mm: hd95(p, t, pred.dims, pred.spacing),
    predVolumeMl: volumeMl(p, pred.spacing),
    truthVolumeMl: volumeMl(t, pred.spacing),
    perSlice,
  };
  console.log(JSON.stringify(result, null, 2));
  return 0;
}

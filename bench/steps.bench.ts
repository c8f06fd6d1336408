/**
 * Dice and time per sampling setting (issue "Speed": never trade more than 0.01 Dice for speed),
 * measured the way users run it: `quorum propose` on held-out cases of the shipped model, then
 * `quorum evaluate` against the expert reference. One case of the unseen TCGA-LGG site (a head as
 * it comes from the scanner) and one skull-stripped BraTS subject; whole volumes, the model's
 * recommended members (said in each row's note), seed 0.
 * The full 15-case sweep behind the shipped default is in the README (_Held-out results_).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CropMode } from '../core/src/lists.ts';
import { quorumWith } from '../test/helpers/cli.ts';
import { modelWithManifest } from '../test/helpers/model-dir.ts';
import { DATA } from '../test/helpers/paths.ts';
import { readManifest } from '../workers/src/engine/session.ts';
import { DEFAULT_MODEL_DIR } from '../workers/src/host/paths.ts';
import type { BenchRow } from './types.ts';

export const title =
  'Dice and time per DDIM step count, first-step sharing and crop (held-out cases, the app itself)';

const CASES = [
  {
    name: 'TCGA_FG_6689 (unseen site)',
    dir: join(DATA, 'tcga-lgg', 'TCGA_FG_6689_20020326'),
    truth: 'seg.nii.gz',
  },
  {
    name: 'BraTS pat0003',
    dir: join(DATA, 'brats2015-deepmedic', 'validation', 'brats_2013_pat0003_1'),
    truth: 'OTMultiClass.nii.gz',
  },
];
/**
 * DDIM steps, crop (engine/crop.ts: 'head' is the default, 'off' the whole frame) and whether the
 * members share the first step (manifest `recommended.shareFirstStep`; false: a copy of the shipped
 * model's folder with it off). The first is the shipped default.
 */
const SETTINGS: { steps: number; crop: CropMode; shared: boolean }[] = [
  { steps: 4, crop: 'head', shared: true },
  { steps: 5, crop: 'head', shared: false },
  { steps: 4, crop: 'off', shared: true },
  { steps: 10, crop: 'head', shared: false },
];
/** The shipped model's folder, or one made in `dir` with `recommended.shareFirstStep` set to `shared`. */
function modelWith(dir: string, shared: boolean): string {
  if ((readManifest(DEFAULT_MODEL_DIR).recommended.shareFirstStep === true) === shared)
    return DEFAULT_MODEL_DIR;
  if (existsSync(dir)) return dir;
  return modelWithManifest(dir, (manifest) => {
    manifest.recommended.shareFirstStep = shared;
  });
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'quorum-bench-steps-'));
  try {
    for (const c of CASES) {
      for (const { steps, crop, shared } of SETTINGS) {
        const out = join(tmp, `${c.name.split(' ')[0]}-${steps}-${crop}-${shared}`);
        const model = modelWith(join(tmp, `model-shared-${shared}`), shared);
        const args = ['--steps', String(steps), '--crop', crop, '--model', model];
        const p = quorumWith({ timeoutMs: 600_000 }, 'propose', c.dir, '--out', out, ...args);
        if (p.code !== 0) throw new Error(`quorum propose ${c.dir} ${args.join(' ')}: ${p.stderr.trim()}`);
        const e = quorumWith(
          { timeoutMs: 120_000 },
          'evaluate',
          '--pred',
          join(out, 'mask.nii.gz'),
          '--truth',
          join(c.dir, c.truth),
        );
        if (e.code !== 0) throw new Error(`quorum evaluate: ${e.stderr.trim()}`);
        const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
        const setting = `DDIM ${steps}${shared ? ' (first step shared)' : ''}, crop ${crop}`;
        const note = `${c.name}, ${setting}, ${report.settings.members} members`;
        rows.push({
          group: 'steps',
          name: `Dice, ${setting}: ${c.name}`,
          value: JSON.parse(e.stdout).dice,
          unit: 'Dice',
          note,
        });
        rows.push({
          group: 'steps',
          name: `s per slice, ${setting}: ${c.name}`,
          value: report.timings.secondsPerSlice,
          unit: 's',
          note: `${report.slices.length} slices`,
        });
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return rows;
}

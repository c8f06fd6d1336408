/**
 * Simulated-user evaluation of prompt-guided re-proposals (issue 12; the nnInteractive-style
 * curve): on held-out cases of the shipped model, Dice after 0, 1, 3, 5 and 10 clicks, each at
 * the centre of the largest 3D error of what the user sees (bench/click-user.ts), against
 *   - the unprompted proposal (0 clicks), and
 *   - the same click budget used as brush strokes: a disc of the click blob's size (2 sigma,
 *     7 mm) painted into or erased from the unprompted proposal, the user clicking the largest
 *     error of the brushed mask each time.
 * Clicks go through the engine as the viewer's Refine sends them (all clicks so far, only the
 * touched slices re-proposed over the unprompted proposal); the model's recommended members and steps, seed 0.
 * Also the time of a one-click refine (the goal: a slice re-proposed in under 2 s).
 */
import { join } from 'node:path';
import { dice } from '../core/src/metrics.ts';
import { openCase } from '../core/src/node/case.ts';
import type { PromptPoint } from '../core/src/prompts.ts';
import { DATA } from '../test/helpers/paths.ts';
import { EngineClient } from '../workers/src/client.ts';
import { brush, largestErrorClick, proposeMask } from './click-user.ts';
import type { BenchRow } from './types.ts';

export const title = 'Simulated user: Dice after N clicks, prompts vs brush (held-out cases)';

/** Held-out cases (README, Held-out results): two failures of the unprompted proposal and an unseen-site case. */
const CASES = ['TCGA_DU_A5TY_19970709', 'TCGA_CS_6666_20011109', 'TCGA_FG_A60K_20040224'];
const COUNTS = [0, 1, 3, 5, 10];
const BRUSH_MM = 7;

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // QUORUM_BENCH_MODEL: another prompt model's folder (default: the shipped model)
  const modelDir = process.env.QUORUM_BENCH_MODEL;
  const engine = await EngineClient.start(modelDir ? { modelDir } : {});
  const curves: Record<string, { prompts: number[]; brush: number[] }> = {};
  try {
    if (!engine.info) throw new Error('engine did not start');
    for (const name of CASES) {
      const kase = await openCase(join(DATA, 'tcga-lgg', name));
      if (!kase.label) throw new Error(`${name}: no reference label`);
      const dims = kase.label.dims;
      const spacing = kase.label.spacing;
      const truth = Uint8Array.from(kase.label.data as ArrayLike<number>, (v) => (v > 0 ? 1 : 0));
      const base = (await proposeMask(engine, kase, [])).mask;
      const prompted: number[] = [];
      const brushed: number[] = [];
      // prompts: the user clicks the largest error of the current re-proposal
      const points: PromptPoint[] = [];
      let mask = base;
      for (let n = 0; n <= COUNTS[COUNTS.length - 1]; n++) {
        if (COUNTS.includes(n)) prompted.push(dice(mask, truth));
        const click = largestErrorClick(mask, truth, dims);
        if (!click) break;
        points.push(click);
        const r = await proposeMask(engine, kase, points, base);
        if (n === 0) {
          rows.push({
            group: 'clicks',
            name: `s to the clicked slice, one-click refine: ${name}`,
            value: r.firstSliceSeconds ?? Number.NaN,
            unit: 's',
            goal: '< 2 s',
            note: 'engine started; volumes sent inline with each request (the app caches the case)',
          });
          rows.push({
            group: 'clicks',
            name: `s per one-click refine, all slices: ${name}`,
            value: r.seconds,
            unit: 's',
            note: `${r.touched.length} slices re-proposed (the click's and its lesion's)`,
          });
        }
        mask = r.mask;
      }
      // brush: the same budget of strokes, each on the largest error of the brushed mask
      const painted = base.slice();
      for (let n = 0; n <= COUNTS[COUNTS.length - 1]; n++) {
        if (COUNTS.includes(n)) brushed.push(dice(painted, truth));
        const click = largestErrorClick(painted, truth, dims);
        if (!click) break;
        brush(painted, click, dims, spacing, BRUSH_MM);
      }
      curves[name] = { prompts: prompted, brush: brushed };
      for (const [i, n] of COUNTS.entries()) {
        rows.push({
          group: 'clicks',
          name: `Dice, ${n} clicks (prompts): ${name}`,
          value: prompted[i] ?? Number.NaN,
          unit: 'Dice',
        });
        rows.push({
          group: 'clicks',
          name: `Dice, ${n} strokes (brush): ${name}`,
          value: brushed[i] ?? Number.NaN,
          unit: 'Dice',
        });
      }
    }
  } finally {
    await engine.close();
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const [i, n] of COUNTS.entries()) {
    const p = CASES.map((c) => curves[c].prompts[i] ?? curves[c].prompts.at(-1)!);
    const b = CASES.map((c) => curves[c].brush[i] ?? curves[c].brush.at(-1)!);
    rows.push({
      group: 'clicks',
      name: `mean Dice, ${n} clicks: prompts`,
      value: mean(p),
      unit: 'Dice',
      note: `${CASES.length} held-out cases`,
    });
    rows.push({
      group: 'clicks',
      name: `mean Dice, ${n} clicks: brush`,
      value: mean(b),
      unit: 'Dice',
      note: `${CASES.length} held-out cases`,
    });
  }
  return rows;
}

/**
 * Prompt-guided re-proposals (issue 12) with the shipped prompt model and real ORT, on a held-out
 * case whose unprompted proposal misses the upper slices of the lesion (k 25-27) and proposes a
 * false positive on k 20, the slice below the lesion (README failure cases: TCGA_DU_A5TY). Floors,
 * not exact values.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { largestErrorClick, proposeMask } from '../../bench/click-user.ts';
import { dice } from '../../core/src/metrics.ts';
import { type Case, openCase } from '../../core/src/node/case.ts';
import type { Prompts } from '../../core/src/prompts.ts';
import type { Volume } from '../../core/src/volume.ts';
import { EngineClient } from '../../workers/src/client.ts';
import { removeCaseFile, writeCaseFile } from '../../workers/src/host/case-files.ts';
import type { ChannelVolume, EngineSliceResult } from '../../workers/src/protocol.ts';
import { quorumWith } from '../helpers/cli.ts';
import { DATA, REPO } from '../helpers/paths.ts';
import { CORONAL, reorder } from '../helpers/reorder.ts';

const CASE = join(DATA, 'tcga-lgg', 'TCGA_DU_A5TY_19970709');
// the deepest voxel of the reference on k 26 (missed)
const MISSED: [number, number, number] = [153, 174, 26];
// the false positive on k 20 moves a little from one model to the next: the click goes to its
// deepest pixel in this model's proposal, as a user's would
const FP_SLICE = 20;

let engine: EngineClient;
let kase: Case;
let truth: Uint8Array;
let base: Uint8Array;
let falsePositive: [number, number, number];
/** The single positive click on MISSED, as proposed stored axially (the coronal test compares with it). */
let axialClick: Awaited<ReturnType<typeof proposeMask>> | undefined;
const plane = (m: Uint8Array, k: number) => m.subarray(k * 256 * 256, (k + 1) * 256 * 256);
const area = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);

beforeAll(async () => {
  engine = await EngineClient.start();
  kase = await openCase(CASE);
  truth = Uint8Array.from(kase.label!.data as ArrayLike<number>, (v) => (v > 0 ? 1 : 0));
  base = (await proposeMask(engine, kase, [])).mask;
  const click = largestErrorClick(plane(base, FP_SLICE), plane(truth, FP_SLICE), [256, 256, 1]);
  falsePositive = click ? [click.ijk[0], click.ijk[1], FP_SLICE] : [0, 0, FP_SLICE];
}, 300_000);
afterAll(() => engine?.close());

describe('prompts on a held-out case (shipped model, real ORT)', () => {
  it('the unprompted proposal misses k 26 and has a false positive on k 20 (the premise)', () => {
    expect(area(plane(truth, 26))).toBeGreaterThan(500);
    expect(area(plane(base, 26))).toBeLessThan(50);
    expect(area(plane(base, FP_SLICE))).toBeGreaterThan(150);
    expect(area(plane(truth, FP_SLICE))).toBe(0);
    expect(plane(base, FP_SLICE)[falsePositive[1] * 256 + falsePositive[0]]).toBe(1);
  });

  it('empty prompts give the unprompted proposal, bit for bit', async () => {
    const a: EngineSliceResult[] = [];
    const b: EngineSliceResult[] = [];
    const volumes = Object.fromEntries(
      Object.entries(kase.sequences).map(([s, v]) => [s, { ...v!, data: Float32Array.from(v!.data) }]),
    );
    await engine.propose({ caseName: 'a', volumes, slices: [20, 24], seed: 3 }, (e) => {
      if (e.type === 'slice') a.push(e.result);
    }).result;
    await engine.propose(
      { caseName: 'b', volumes, slices: [20, 24], seed: 3, prompts: { points: [] } },
      (e) => {
        if (e.type === 'slice') b.push(e.result);
      },
    ).result;
    expect(b.length).toBe(5);
    for (const [i, r] of a.entries()) {
      expect(Buffer.from(b[i].mean.buffer).equals(Buffer.from(r.mean.buffer))).toBe(true);
      expect(Buffer.from(b[i].std.buffer).equals(Buffer.from(r.std.buffer))).toBe(true);
    }
  }, 120_000);

  it('a single positive click on the missed k 26 proposes the lesion there and on its neighbours', async () => {
    // v2.2's click channels alone ignored this click (nothing on k 26, Dice unchanged at 0.327);
    // the click's guidance of the sampler (core/src/click-guidance.ts) holds lesion under it and
    // the network grows it, and propagation carries it to the slices below
    const r = await proposeMask(engine, kase, [{ ijk: MISSED, positive: true }], base);
    axialClick = r;
    expect(r.touched).toEqual(expect.arrayContaining([25, 26]));
    expect(area(plane(r.mask, 26))).toBeGreaterThan(250);
    expect(dice(plane(r.mask, 26), plane(truth, 26))).toBeGreaterThan(0.4);
    expect(dice(plane(r.mask, 25), plane(truth, 25))).toBeGreaterThan(
      dice(plane(base, 25), plane(truth, 25)),
    );
    expect(dice(r.mask, truth)).toBeGreaterThan(dice(base, truth) + 0.08);
  }, 120_000);

  it('positive clicks on the missed slices propose the lesion there and the case gets better', async () => {
    // clicks on each missed slice (25-27)
    const points = [25, 26, 27].map((k) => ({
      ijk: [MISSED[0], MISSED[1], k] as [number, number, number],
      positive: true,
    }));
    const r = await proposeMask(engine, kase, points, base);
    expect(r.touched).toEqual(expect.arrayContaining([25, 26, 27]));
    expect(area(plane(r.mask, 25))).toBeGreaterThan(100);
    expect(dice(plane(r.mask, 25), plane(truth, 25))).toBeGreaterThan(0.2);
    expect(dice(r.mask, truth)).toBeGreaterThan(dice(base, truth) + 0.05);
  }, 120_000);

  it('a negative click on the false positive shrinks it and leaves the real lesion beside it', async () => {
    // the false positive on k 20 lies over the lesion on k 21: the click is not followed into it
    // (core/src/prompt-propagation.ts)
    const r = await proposeMask(engine, kase, [{ ijk: falsePositive, positive: false }], base);
    expect(r.touched).toContain(FP_SLICE);
    expect(r.touched).not.toContain(21);
    expect(area(plane(r.mask, FP_SLICE))).toBeLessThan(area(plane(base, FP_SLICE)) * 0.6);
    for (const k of [21, 22, 23])
      expect(dice(plane(r.mask, k), plane(truth, k)), `k ${k}`).toBeGreaterThanOrEqual(
        dice(plane(base, k), plane(truth, k)),
      );
    expect(dice(r.mask, truth)).toBeGreaterThan(dice(base, truth));
  }, 120_000);
});

/** The held-out case stored in coronal slices (CORONAL), with the voxel index maps between the orders. */
function storedCoronal() {
  let order: ReturnType<typeof reorder> | undefined;
  const sequences: Record<string, Volume> = {};
  for (const [seq, v] of Object.entries(kase.sequences)) {
    order = reorder(v!, ...CORONAL);
    sequences[seq] = order.volume;
  }
  return { sequences, ...order! };
}

describe('prompts on a file not stored in axial slices', () => {
  it('the click at the same place brings back the same lesion as on the file stored axially', async () => {
    // The case stored with voxel axes (S-I, L-R, A-P reversed), so in coronal slices (every voxel
    // keeps its world position): the model slices now run along the file's axis 0, so each crosses every native
    // slice, all are sampled and whole planes come back at the end.
    const { sequences, toOld, toNew, volume } = storedCoronal();
    const volumes: Record<string, ChannelVolume> = Object.fromEntries(
      Object.entries(sequences).map(([seq, v]) => [seq, { ...v, data: Float32Array.from(v.data) }]),
    );
    const dims = volume.dims;
    expect(toOld(toNew(MISSED))).toEqual(MISSED);
    const coronal = new Uint8Array(dims[0] * dims[1] * dims[2]);
    const summary = await engine.propose(
      {
        caseName: 'coronal',
        volumes,
        seed: 0,
        prompts: { points: [{ ijk: toNew(MISSED), positive: true }], protect: [3] },
        onlyTouched: true,
      },
      (e) => {
        if (e.type === 'slice') coronal.set(e.result.mask, e.result.k * dims[0] * dims[1]);
      },
    ).result;
    // every native slice with head comes back, the clicked model slice among the touched
    expect(summary.slices.length).toBeGreaterThan(100);
    expect(summary.touched).toContain(26);
    // back in the stored-axially voxel order
    const mask = new Uint8Array(coronal.length);
    const [nx, ny] = [256, 256];
    for (let n2 = 0, idx = 0; n2 < dims[2]; n2++)
      for (let n1 = 0; n1 < dims[1]; n1++)
        for (let n0 = 0; n0 < dims[0]; n0++, idx++) {
          const [i, j, k] = toOld([n0, n1, n2]);
          mask[i + nx * (j + ny * k)] = coronal[idx];
        }
    // the same click stored axially (the single-click test's run; run here when that test was skipped)
    const axial = axialClick ?? (await proposeMask(engine, kase, [{ ijk: MISSED, positive: true }], base));
    console.log(
      `stored in coronal slices: k 26 area ${area(plane(mask, 26))} (axially ${area(plane(axial.mask, 26))}), ` +
        `Dice with truth ${dice(mask, truth).toFixed(3)} (axially ${dice(axial.mask, truth).toFixed(3)}, ` +
        `unprompted ${dice(base, truth).toFixed(3)}), Dice between the two ${dice(mask, axial.mask).toFixed(3)}`,
    );
    expect(area(plane(mask, 26))).toBeGreaterThan(250);
    expect(dice(plane(mask, 26), plane(truth, 26))).toBeGreaterThan(0.4);
    expect(dice(mask, truth)).toBeGreaterThan(dice(base, truth) + 0.08);
    expect(dice(mask, axial.mask)).toBeGreaterThan(0.95);
  }, 300_000);
});

describe("a host case's samples kept between runs", () => {
  it('a click on the coronal-stored case samples only the slices it touches; the rest come from the earlier run', async () => {
    const { sequences, toNew } = storedCoronal();
    // as the host hands a case to the engine: a case file the engine reads once and keeps
    const caseFile = writeCaseFile('coronal-cache', sequences, ['flair', 't1c']);
    try {
      const run = async (prompts?: Prompts) => {
        const masks = new Map<number, Uint8Array>();
        const summary = await engine.propose(
          {
            caseName: 'coronal',
            caseFile,
            seed: 0,
            members: 2,
            steps: 2,
            ...(prompts ? { prompts, onlyTouched: true } : {}),
          },
          (e) => {
            if (e.type === 'slice') masks.set(e.result.k, e.result.mask);
          },
        ).result;
        return { summary, masks };
      };
      const first = await run();
      // a file not stored axially: every model slice is sampled, whichever native slices are asked for
      const modelSlices = first.summary.sampled!;
      expect(modelSlices).toBeGreaterThan(20);
      const click = await run({ points: [{ ijk: toNew(MISSED), positive: true }] });
      const touched = click.summary.touched ?? [];
      expect(touched).toContain(26);
      // only the slices the click conditions are sampled; the rest come from the first run
      expect(click.summary.sampled).toBeGreaterThanOrEqual(touched.length);
      expect(click.summary.sampled).toBeLessThan(modelSlices / 2);
      // the same click again: nothing is sampled, and the masks are those of the run before
      const again = await run({ points: [{ ijk: toNew(MISSED), positive: true }] });
      expect(again.summary.sampled).toBe(0);
      expect([...again.masks.keys()]).toEqual([...click.masks.keys()]);
      for (const [k, m] of again.masks)
        expect(Buffer.from(m).equals(Buffer.from(click.masks.get(k)!))).toBe(true);
      console.log(
        `case-file runs: first ${first.summary.seconds.total.toFixed(1)} s, click ${click.summary.seconds.total.toFixed(1)} s ` +
          `(${click.summary.sampled} of ${modelSlices} model slices sampled, touched ${touched.length}), again ${again.summary.seconds.total.toFixed(1)} s`,
      );
    } finally {
      removeCaseFile(caseFile);
    }
  }, 300_000);
});

describe('quorum propose --prompts', () => {
  it('names the prompts file and the bad entry; a model without prompts refuses them', () => {
    const bad = join(tmpdir(), `quorum-bad-prompts-${process.pid}.json`);
    writeFileSync(bad, JSON.stringify({ points: [{ voxel: [1, 2, 99], positive: true }] }));
    const out = join(tmpdir(), `quorum-prompts-out-${process.pid}`);
    const p = quorumWith({ timeoutMs: 120_000 }, 'propose', CASE, '--out', out, '--prompts', bad);
    expect(p.code).not.toBe(0);
    expect(p.stderr).toContain(bad);
    expect(p.stderr).toMatch(/points\[0\] .* is outside the 256x256x36 reference volume/);
    const good = join(tmpdir(), `quorum-good-prompts-${process.pid}.json`);
    writeFileSync(good, JSON.stringify({ points: [{ voxel: MISSED, positive: true }] }));
    const v1 = join(REPO, 'models', 'quorum-wt-2ch');
    const q = quorumWith(
      { timeoutMs: 120_000 },
      'propose',
      CASE,
      '--out',
      out,
      '--prompts',
      good,
      '--model',
      v1,
    );
    expect(q.code).not.toBe(0);
    expect(q.stderr).toMatch(/takes no prompts/);
  }, 300_000);
});

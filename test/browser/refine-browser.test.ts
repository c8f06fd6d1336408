import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedComponent } from '../../core/src/components.ts';
import { readNifti } from '../../core/src/nifti/read.ts';
import { region2d, regionCentre } from '../../core/src/prompts.ts';
import { DEFAULT_MODEL_DIR, scratchDir } from '../../workers/src/host/service.ts';
import { DATA, type Harness, openApp, startHarness } from './harness.ts';

/**
 * The Refine tool in the real app (host, engine with the prompt model, built renderer in
 * Chromium) on a held-out TCGA-LGG case with its reference segmentation (TCGA_DU_A5TY: the
 * unprompted proposal stops short of the lesion's upper slices and has false positives away from
 * it; README failure cases). The test proposes the whole volume unprompted, then finds, against
 * the reference, a missed lesion and a false positive; the voxels clicked are their centres.
 *   click in the missed lesion   -> pending voxels appear there
 *   Shift+click on the false pos -> its pending voxels go
 *   Ctrl+Z                       -> the labelmap is back exactly (one undo step per refinement)
 *   brushed voxels + a click     -> they survive bit for bit (protect edited), and do not with it off
 *   reopen                       -> the journal rebuilds the labelmap and the refinement's undo step
 *
 * The model is the shipped one (models/quorum-wt-v2/) unless QUORUM_TEST_MODEL_DIR names another
 * (a prompt model in development); without manifest "prompts" the test is skipped, saying why.
 */
const MODEL_DIR = process.env.QUORUM_TEST_MODEL_DIR || DEFAULT_MODEL_DIR;
const manifest = JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8'));
const NO_PROMPTS = manifest.prompts
  ? undefined
  : `${MODEL_DIR} takes no prompts (manifest.json has no "prompts"): ship the prompt model or set QUORUM_TEST_MODEL_DIR`;
if (NO_PROMPTS) console.warn(`refine-browser: skipped: ${NO_PROMPTS}`);
const CASE = join(DATA, 'tcga-lgg', 'TCGA_DU_A5TY_19970709');
const TRUTH = join(CASE, 'seg.nii.gz');

const PENDING = 255;
/** Smallest 2D region (voxels) that counts as a missed lesion or a false positive. */
const MIN_REGION = 100;
/** Smallest false positive to Shift+click: v2.3's flipped members leave smaller ones (70 voxels, ~0.5 cm², on this case). */
const MIN_FALSE_POSITIVE = 50;
/** The click is in a missed part: no pending voxel lies within this many voxels of it. */
const NEAR = 2;

type Vp = 'axial' | 'sagittal' | 'coronal';
interface Hook {
  dims(): [number, number, number];
  nonZero(): number[];
  goToSlice(id: Vp, index: number): void;
  voxelToPage(id: Vp, ijk: [number, number, number]): [number, number];
  runActive(): boolean;
  refining(): boolean;
  refineClicks(): number;
  refineTiming():
    | {
        clickedSliceSeconds?: number;
        firstSlice?: number;
        seconds: number;
        slices: number[];
        voxels: number;
        outcome: string;
      }
    | undefined;
  journalPending(): number;
  canUndo(): boolean;
  modelTakesPrompts(): boolean;
}
const hook = <T>(page: Page, fn: (h: Hook) => T): Promise<T> =>
  page.evaluate(`(${fn.toString()})(window.__quorumTest)`) as Promise<T>;

interface Region {
  k: number;
  voxels: number[];
  centre: [number, number, number];
}

describe.skipIf(!!NO_PROMPTS)('the Refine tool in the browser (prompt model)', () => {
  const state = scratchDir('quorum-refine-browser');
  let h: Harness;
  let page: Page;
  let dims: [number, number, number];
  let truth: Uint8Array;
  let missed: Region;
  let falsePositive: Region;
  const timings: { what: string; clickedSliceSeconds?: number; seconds: number; slices: number }[] = [];

  const labelsNow = async () => {
    const nz = await hook(page, (t) => t.nonZero());
    const out = new Uint8Array(dims[0] * dims[1] * dims[2]);
    for (let n = 0; n < nz.length; n += 2) out[nz[n]] = nz[n + 1];
    return out;
  };
  const sliceOf = (labels: Uint8Array, k: number) =>
    labels.subarray(k * dims[0] * dims[1], (k + 1) * dims[0] * dims[1]);
  /** 2D regions of `mask` on slice k (flat slice indices), largest first. */
  const regions = (mask: Uint8Array, k: number): Region[] => {
    const [W, H] = dims;
    const seen = new Uint8Array(W * H);
    const out: Region[] = [];
    for (let p = 0; p < W * H; p++) {
      if (!mask[p] || seen[p]) continue;
      const r = region2d(mask, H, W, p);
      const voxels: number[] = [];
      for (let q = 0; q < W * H; q++)
        if (r[q]) {
          seen[q] = 1;
          voxels.push(q);
        }
      const c = regionCentre(r, H, W);
      out.push({ k, voxels, centre: [c % W, Math.floor(c / W), k] });
    }
    return out.sort((a, b) => b.voxels.length - a.voxels.length);
  };
  /** Pending voxels of slice k within `radius` voxels of (i, j). */
  const pendingNear = (labels: Uint8Array, [i0, j0, k]: [number, number, number], radius: number) => {
    const s = sliceOf(labels, k);
    let n = 0;
    for (let j = j0 - radius; j <= j0 + radius; j++)
      for (let i = i0 - radius; i <= i0 + radius; i++)
        if ((i - i0) ** 2 + (j - j0) ** 2 <= radius ** 2 && s[i + dims[0] * j] === PENDING) n++;
    return n;
  };
  const refineClick = async (
    ijk: [number, number, number],
    positive: boolean,
    what: string,
    esc = false,
    view: Vp = 'axial',
  ) => {
    const axis = { sagittal: 0, coronal: 1, axial: 2 }[view];
    await page.evaluate(`window.__quorumTest.goToSlice('${view}', ${ijk[axis]})`);
    await page.waitForTimeout(300);
    const at = (await page.evaluate(
      `window.__quorumTest.voxelToPage('${view}', ${JSON.stringify(ijk)})`,
    )) as [number, number];
    // the last refinement's timing, to tell a new one that ends before the first poll (all its
    // slices sampled before: the engine keeps a case's samples) from none
    await page.evaluate('window.__lastTiming = window.__quorumTest.refineTiming()');
    if (!positive) await page.keyboard.down('Shift');
    await page.mouse.click(at[0], at[1]);
    if (!positive) await page.keyboard.up('Shift');
    await expect
      .poll(
        () =>
          page.evaluate(
            'window.__quorumTest.refining() || window.__quorumTest.runActive() || window.__quorumTest.refineTiming() !== window.__lastTiming',
          ),
        { timeout: 5_000 },
      )
      .toBe(true);
    if (esc) await page.keyboard.press('Escape');
    await expect
      .poll(() => hook(page, (t) => t.refining() || t.runActive()), { timeout: 300_000, interval: 500 })
      .toBe(false);
    await expect.poll(() => hook(page, (t) => t.journalPending())).toBe(0);
    const timing = (await hook(page, (t) => t.refineTiming()))!;
    timings.push({ what, ...timing, slices: timing.slices.length });
    return timing;
  };
  const changedVoxels = (a: Uint8Array, b: Uint8Array) => {
    let n = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
    return n;
  };

  beforeAll(async () => {
    const t = readNifti(new Uint8Array(readFileSync(TRUTH)), TRUTH);
    truth = Uint8Array.from(t.data as ArrayLike<number>, (v) => (v > 0 ? 1 : 0));
    h = await startHarness({ stateDir: state, modelDir: MODEL_DIR, initialCase: CASE });
    page = h.page;
    await openApp(page, h.url);
    dims = await hook(page, (x) => x.dims());
    expect([...t.dims]).toEqual(dims);
    expect(await hook(page, (x) => x.modelTakesPrompts())).toBe(true);
  }, 180_000);
  afterAll(async () => {
    console.log(`refine-browser timings (model ${MODEL_DIR}): ${JSON.stringify(timings)}`);
    await h?.cleanup();
    rmSync(state, { recursive: true, force: true });
  });

  it('proposes the whole volume unprompted, and finds a missed lesion and a false positive in it', async () => {
    await page.getByTestId('propose-all').click();
    await expect.poll(() => hook(page, (t) => t.runActive()), { timeout: 10_000 }).toBe(true);
    await expect
      .poll(() => hook(page, (t) => t.runActive()), { timeout: 600_000, interval: 1000 })
      .toBe(false);
    await expect.poll(() => hook(page, (t) => t.journalPending())).toBe(0);
    const labels = await labelsNow();
    // misses: the largest unproposed part of each reference region, where a user would click,
    // if it is most of the region; ranked by how much of the region is proposed (a lesion the
    // proposal stops short of first, as in the README's failure case), then by size
    const misses: { r: Region; proposed: number }[] = [];
    // false positives: 2D regions of a 3D connected pending component that touches no reference
    // voxel (one that runs into the lesion on another slice is a leak of it, not a false positive)
    const fps: Region[] = [];
    const clean = new Uint8Array(labels.length);
    const seen = new Uint8Array(labels.length);
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] !== PENDING || seen[i]) continue;
      const comp = connectedComponent(labels, dims, i, PENDING);
      for (const q of comp) seen[q] = 1;
      if (comp.every((q) => !truth[q])) for (const q of comp) clean[q] = 1;
    }
    let onLesionSlices = 0;
    let overlap = 0;
    for (let k = 0; k < dims[2]; k++) {
      const prop = Uint8Array.from(sliceOf(labels, k), (v) => (v === PENDING ? 1 : 0));
      const gt = sliceOf(truth, k);
      for (const r of regions(gt, k)) {
        const unproposed = new Uint8Array(prop.length);
        for (const q of r.voxels) unproposed[q] = prop[q] ? 0 : 1;
        const part = regions(unproposed, k)[0];
        if (part && part.voxels.length >= MIN_REGION && part.voxels.length >= 0.5 * r.voxels.length)
          misses.push({ r: part, proposed: r.voxels.length - part.voxels.length });
      }
      for (const r of regions(sliceOf(clean, k), k)) fps.push(r);
      if (gt.some((v) => v))
        for (let q = 0; q < prop.length; q++) {
          onLesionSlices += prop[q];
          overlap += prop[q] & gt[q];
        }
    }
    // the labelmap and the reference share a grid: on the lesion's slices the proposal is mostly in it
    expect(overlap).toBeGreaterThan(0.5 * onLesionSlices);
    misses.sort((a, b) => b.proposed - a.proposed || b.r.voxels.length - a.r.voxels.length);
    missed = misses[0]?.r;
    falsePositive = fps.sort((a, b) => b.voxels.length - a.voxels.length)[0];
    expect(
      missed?.voxels.length,
      'the unprompted proposal misses no lesion on this case',
    ).toBeGreaterThanOrEqual(MIN_REGION);
    expect(
      falsePositive?.voxels.length,
      'the unprompted proposal has no false positive',
    ).toBeGreaterThanOrEqual(MIN_FALSE_POSITIVE);
    console.log(
      `missed lesion: slice ${missed.k}, ${missed.voxels.length} voxels, centre ${missed.centre}; ` +
        `false positive: slice ${falsePositive.k}, ${falsePositive.voxels.length} voxels, centre ${falsePositive.centre}`,
    );
  }, 700_000);

  it('a click in the missed lesion proposes it; undo restores the labelmap exactly, redo brings it back', async () => {
    await page.keyboard.press('k');
    const before = await labelsNow();
    expect(pendingNear(before, missed.centre, NEAR)).toBe(0);
    const timing = await refineClick(missed.centre, true, 'positive click, missed lesion');
    expect(timing.slices).toContain(missed.k);
    // the clicked slice comes first, before the lesion is followed through its neighbours
    expect(timing.firstSlice).toBe(missed.k);
    expect(timing.slices.length).toBeGreaterThan(1);
    const after = await labelsNow();
    expect(pendingNear(after, missed.centre, NEAR)).toBeGreaterThan(0);
    // a good part of the missed part of the reference lesion is now proposed
    const inLesion = (l: Uint8Array) =>
      missed.voxels.filter((q) => sliceOf(l, missed.k)[q] === PENDING).length;
    expect(inLesion(after) - inLesion(before)).toBeGreaterThan(0.2 * missed.voxels.length);
    expect(await hook(page, (t) => t.refineClicks())).toBe(1);
    await h.screenshot('refine-positive');

    await page.keyboard.press('Control+z');
    await expect.poll(async () => changedVoxels(await labelsNow(), before)).toBe(0);
    expect(await hook(page, (t) => t.refineClicks())).toBe(0); // the click was taken back
    await page.keyboard.press('Control+y');
    await expect.poll(async () => changedVoxels(await labelsNow(), after)).toBe(0);
    await page.keyboard.press('Control+z');
    await expect.poll(async () => changedVoxels(await labelsNow(), before)).toBe(0);

    // the same voxel clicked in the coronal view: the same slice is re-proposed, first
    const coronal = await refineClick(missed.centre, true, 'positive click, coronal view', false, 'coronal');
    expect(coronal.firstSlice).toBe(missed.k);
    expect(pendingNear(await labelsNow(), missed.centre, NEAR)).toBeGreaterThan(0);
    await page.keyboard.press('Control+z');
    await expect.poll(async () => changedVoxels(await labelsNow(), before)).toBe(0);
  }, 400_000);

  it('Shift+click on a false positive removes it; undo brings it back exactly', async () => {
    const before = await labelsNow();
    const fp = falsePositive;
    const pendingIn = (l: Uint8Array) => fp.voxels.filter((q) => sliceOf(l, fp.k)[q] === PENDING).length;
    expect(pendingIn(before)).toBe(fp.voxels.length);
    const timing = await refineClick(fp.centre, false, 'negative click, false positive');
    expect(timing.slices).toContain(fp.k);
    expect(timing.firstSlice).toBe(fp.k);
    const after = await labelsNow();
    expect(pendingNear(after, fp.centre, 2)).toBe(0);
    expect(pendingIn(after)).toBeLessThan(0.5 * fp.voxels.length);
    console.log(
      `false positive: ${pendingIn(after)} of ${fp.voxels.length} voxels still pending on its slice`,
    );
    await h.screenshot('refine-negative');
    await page.keyboard.press('Control+z');
    await expect.poll(async () => changedVoxels(await labelsNow(), before)).toBe(0);
    expect(await hook(page, (t) => t.canUndo())).toBe(false);

    // Esc cancels a refinement at once: what streamed so far is one undo step, undone exactly. The
    // click is on another voxel of the false positive: the engine keeps a case's samples, so the
    // same click again could be done before Esc reaches it
    const other =
      fp.voxels
        .map((q): [number, number, number] => [q % dims[0], Math.floor(q / dims[0]), fp.k])
        .find(([i, j]) => Math.abs(i - fp.centre[0]) + Math.abs(j - fp.centre[1]) >= 2) ?? fp.centre;
    const cancelled = await refineClick(other, false, 'negative click, Esc', true);
    expect(cancelled.outcome).toBe('cancelled');
    expect(await hook(page, (t) => t.canUndo())).toBe(cancelled.voxels > 0);
    if (cancelled.voxels > 0) await page.keyboard.press('Control+z');
    await expect.poll(async () => changedVoxels(await labelsNow(), before)).toBe(0);
  }, 400_000);

  it('brushed voxels survive a refinement bit for bit (protect edited), and with protect off become pending', async () => {
    const k = missed.k;
    const [ci, cj] = missed.centre;
    await page.locator('[data-tool="brush"]').click();
    await page.evaluate(`window.__quorumTest.goToSlice('axial', ${k})`);
    await page.waitForTimeout(300);
    // a stroke across the missed lesion's centre, where the refinement will propose
    const a = (await page.evaluate(
      `window.__quorumTest.voxelToPage('axial', [${ci - 6}, ${cj}, ${k}])`,
    )) as number[];
    const b = (await page.evaluate(
      `window.__quorumTest.voxelToPage('axial', [${ci + 6}, ${cj}, ${k}])`,
    )) as number[];
    await page.mouse.move(a[0], a[1]);
    await page.mouse.down();
    for (let s = 1; s <= 8; s++)
      await page.mouse.move(a[0] + ((b[0] - a[0]) * s) / 8, a[1] + ((b[1] - a[1]) * s) / 8);
    await page.mouse.up();
    await expect.poll(() => hook(page, (t) => t.journalPending())).toBe(0);
    const brushed = await labelsNow();
    const edited = [...brushed.keys()].filter((i) => brushed[i] > 0 && brushed[i] < PENDING);
    expect(edited.length).toBeGreaterThan(20);

    await page.locator('[data-tool="refine"]').click();
    expect(await page.getByTestId('protect-edited').isChecked()).toBe(true);
    const timing = await refineClick(missed.centre, true, 'positive click, protect on');
    expect(timing.slices).toContain(k);
    const protectedAfter = await labelsNow();
    // the refinement did propose on that slice, around the brushed voxels...
    expect(pendingNear(protectedAfter, missed.centre, 10)).toBeGreaterThan(0);
    // ...and every labelled voxel is as it was
    for (const i of edited)
      if (protectedAfter[i] !== brushed[i]) expect(`voxel ${i}: ${protectedAfter[i]}`).toBe('');
    expect(
      [...protectedAfter.keys()].filter((i) => protectedAfter[i] > 0 && protectedAfter[i] < PENDING),
    ).toEqual(edited);
    await page.keyboard.press('Control+z');
    await expect.poll(async () => changedVoxels(await labelsNow(), brushed)).toBe(0);

    // protect off: the same click turns the brushed voxels inside the refined lesion into pending
    await page.getByTestId('protect-edited').uncheck();
    await refineClick(missed.centre, true, 'positive click, protect off');
    const unprotected = await labelsNow();
    expect(edited.filter((i) => unprotected[i] === PENDING).length).toBeGreaterThan(0);
    await page.getByTestId('protect-edited').check();
    expect(h.pageErrors).toEqual([]);
  }, 700_000);

  it('is journalled: reopening restores the refined labelmap, and its undo step', async () => {
    const refined = await labelsNow();
    await openApp(page, h.url);
    expect(changedVoxels(await labelsNow(), refined)).toBe(0);
    expect(await hook(page, (t) => t.canUndo())).toBe(true);
    await page.keyboard.press('Control+z');
    const undone = await labelsNow();
    // the brushed voxels are back from pending, as before the protect-off refinement
    expect(changedVoxels(undone, refined)).toBeGreaterThan(0);
    const labelled = (l: Uint8Array) => [...l.keys()].filter((i) => l[i] > 0 && l[i] < PENDING).length;
    expect(labelled(undone)).toBeGreaterThan(labelled(refined));
  }, 200_000);
});

import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedComponent } from '../../core/src/components.ts';
import { bidimensional } from '../../core/src/diameters.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { PENDING } from '../../renderer/src/lib/label-values.ts';
import { formatMl } from '../../renderer/src/lib/ui-state.ts';
import { SAMPLE_CASE, scratchDir } from '../../workers/src/host/service.ts';
import { drag, exportMaskNifti, quorumHook, voxelToPage } from '../helpers/browser-app.ts';
import { type Harness, openApp, startHarness } from './harness.ts';
import {
  countPixels,
  decodePng,
  isColour,
  isGreen,
  isGrey,
  isRed,
  isTinted,
  pixel,
  type Region,
} from './viewer-png.ts';

/**
 * The viewer (renderer/) in Chromium against the real host, engine and ONNX model on the shipped
 * sample case (BraTS 2015 pat0003): rendered pixels are checked in screenshots, the labelmap
 * through the page's read-only test hook, and the exported mask by reading the NIfTI back.
 */
type Vp = 'axial' | 'sagittal' | 'coronal';
interface Hook {
  ready(): boolean;
  slice(id: Vp): number;
  labelCounts(): Record<number, number>;
  rect(id: Vp): Region;
  voxelToPage(id: Vp, ijk: [number, number, number]): [number, number];
  labelAt(ijk: [number, number, number]): number;
  goToSlice(id: Vp, index: number): void;
  runActive(): boolean;
  caseId(): string | undefined;
  dims(): [number, number, number];
  spacing(): [number, number, number];
  nonZero(): number[];
}
const hook = quorumHook<Hook>();
/** The hook with values from the test (serialised as JSON into the page). */
const goToSlice = (page: Page, k: number) =>
  page.evaluate(`window.__quorumTest.goToSlice('axial', ${JSON.stringify(k)})`);

/** The tumour slice of pat0003 the tests work on (0-based axial k; ~3700 tumour voxels). */
const K = 80;

/** How many of these lines (page coordinates of both ends) an SVG line of the axial view draws. */
async function calipersDrawn(page: Page, lines: [number, number][][]): Promise<number> {
  const drawn = await page.evaluate(() => {
    const view = document.querySelector('[data-viewport="axial"]')!;
    const r = view.querySelector('.svg-layer')!.getBoundingClientRect();
    return [...view.querySelectorAll('.svg-layer line')].map((l) =>
      ['x1', 'y1', 'x2', 'y2'].map((a, n) => Number(l.getAttribute(a)) + (n % 2 ? r.y : r.x)),
    );
  });
  const near = (p: number[], q: number[]) => Math.hypot(p[0] - q[0], p[1] - q[1]) <= 1.5;
  return lines.filter(([a, b]) =>
    drawn.some(
      ([x1, y1, x2, y2]) =>
        (near(a, [x1, y1]) && near(b, [x2, y2])) || (near(a, [x2, y2]) && near(b, [x1, y1])),
    ),
  ).length;
}
/** A viewport without its edge labels (orientation letters, slice number, border). */
const inner = (r: Region): Region => ({
  x: r.x + 40,
  y: r.y + 40,
  width: r.width - 80,
  height: r.height - 80,
});

describe('viewer on the sample case', () => {
  let h: Harness;
  const out = scratchDir('quorum-viewer-test');
  let rects: Record<Vp, Region>;

  const shot = async (name: string) => decodePng(await h.screenshot(name));
  const settle = () => h.page.waitForTimeout(400);

  beforeAll(async () => {
    h = await startHarness({});
    await openApp(h.page, h.url);
    rects = {
      axial: await hook(h.page, (t) => t.rect('axial')),
      sagittal: await hook(h.page, (t) => t.rect('sagittal')),
      coronal: await hook(h.page, (t) => t.rect('coronal')),
    };
  });
  afterAll(async () => {
    await h?.cleanup();
    rmSync(out, { recursive: true, force: true });
  });

  it('renders the three planes of the real volume with no overlay yet', async () => {
    await settle();
    const img = await shot('viewer-1-open');
    for (const id of ['axial', 'sagittal', 'coronal'] as Vp[]) {
      const r = rects[id];
      const grey = countPixels(img, r, isGrey);
      // A brain fills a good part of each plane; a blank or failed WebGL canvas has none.
      expect(grey, id).toBeGreaterThan(0.05 * r.width * r.height);
      expect(countPixels(img, inner(r), isColour), id).toBeLessThan(20);
    }
    expect(h.pageErrors).toEqual([]);
    expect(h.externalRequests).toEqual([]);
  });

  it('scrolls with the mouse wheel and the arrow keys', async () => {
    const r = rects.axial;
    const before = await hook(h.page, (t) => t.slice('axial'));
    await h.page.mouse.move(r.x + r.width / 2, r.y + r.height / 2);
    await h.page.mouse.wheel(0, 300);
    await settle();
    const afterWheel = await hook(h.page, (t) => t.slice('axial'));
    expect(afterWheel).not.toBe(before);
    await h.page.mouse.click(r.x + 10, r.y + 30, { button: 'middle' });
    await h.page.keyboard.press('ArrowUp');
    await settle();
    expect(await hook(h.page, (t) => t.slice('axial'))).toBe(afterWheel + 1);
    const label = await h.page.getByTestId('slice-axial').textContent();
    expect(label).toBe(`${afterWheel + 2} / 155`);
  });

  it('streams a real proposal into the labelmap and the uncertainty heat map', async () => {
    await h.page.evaluate(`window.__quorumTest.goToSlice('axial', ${K})`);
    await h.page.getByTestId('members').fill('3');
    await h.page.getByTestId('steps').fill('3');
    await h.page.getByTestId('range-from').fill(String(K));
    await h.page.getByTestId('range-to').fill(String(K + 2));
    const t0 = Date.now();
    await h.page.getByTestId('propose-range').click();
    await h.page.getByTestId('run-message').filter({ hasText: 'Done' }).waitFor({ timeout: 150_000 });
    console.log(`proposal of 3 slices (3 members x 3 steps): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const counts = await hook(h.page, (t) => t.labelCounts());
    expect(counts[PENDING]).toBeGreaterThan(1000);
    await settle();

    // Labelmap alone: the pending proposal in green over the tumour.
    await h.page.getByTestId('toggle-uncertainty').uncheck();
    await settle();
    const lab = await shot('viewer-2-proposal-labelmap');
    const green = countPixels(lab, rects.axial, isGreen);
    expect(green).toBeGreaterThan(300);

    // Both off: the grey image only. Heat map alone: tinted pixels where the members disagree.
    await h.page.getByTestId('toggle-labelmap').uncheck();
    await settle();
    const none = await shot('viewer-3-proposal-overlays-off');
    await h.page.getByTestId('toggle-uncertainty').check();
    await settle();
    const heat = await shot('viewer-3-proposal-uncertainty');
    const tinted = countPixels(heat, inner(rects.axial), isTinted);
    console.log(`heat map: ${tinted} tinted pixels in the axial view`);
    expect(countPixels(none, inner(rects.axial), isTinted)).toBeLessThan(20);
    expect(tinted).toBeGreaterThan(150);
    expect(countPixels(heat, rects.axial, isGreen)).toBeLessThan(green / 4);

    await h.page.getByTestId('toggle-labelmap').check();
    await settle();
    await shot('viewer-4-proposal-both');
  });

  it('lists the proposed lesions, goes to one and rejects one from the list, with undo', async () => {
    // the oracle: 6-connected components of the pending voxels, grown one by one
    const dims = await hook(h.page, (t) => t.dims());
    const labels = new Uint8Array(dims[0] * dims[1] * dims[2]);
    const nz = await hook(h.page, (t) => t.nonZero());
    for (let n = 0; n < nz.length; n += 2) labels[nz[n]] = nz[n + 1];
    const sizes: number[] = [];
    const reached = new Uint8Array(labels.length);
    for (let n = 0; n < labels.length; n++) {
      if (labels[n] !== PENDING || reached[n]) continue;
      const comp = connectedComponent(labels, dims, n, PENDING);
      for (const v of comp) reached[v] = 1;
      sizes.push(comp.length);
    }
    sizes.sort((a, b) => b - a);
    const [sx, sy, sz] = await hook(h.page, (t) => t.spacing());
    const rows = h.page.getByTestId('lesion');
    await expect.poll(() => rows.count()).toBe(Math.min(sizes.length, 20));
    expect(await rows.first().locator('.size').textContent()).toBe(
      `${formatMl((sizes[0] * sx * sy * sz) / 1000)} mL`,
    );

    await goToSlice(h.page, 10);
    await rows.first().getByTestId('lesion-go').click();
    await expect.poll(() => hook(h.page, (t) => t.slice('axial'))).toBeGreaterThanOrEqual(K);
    expect(await hook(h.page, (t) => t.slice('axial'))).toBeLessThanOrEqual(K + 2);

    const before = (await hook(h.page, (t) => t.labelCounts()))[PENDING];
    const last = rows.nth((await rows.count()) - 1);
    await last.getByTestId('lesion-reject').click();
    await expect
      .poll(async () => (await hook(h.page, (t) => t.labelCounts()))[PENDING])
      .toBe(before - sizes[Math.min(sizes.length, 20) - 1]);
    await h.page.getByTestId('undo').click();
    await expect.poll(async () => (await hook(h.page, (t) => t.labelCounts()))[PENDING]).toBe(before);
  });

  it('accepts the proposal on a slice, undoes and redoes it', async () => {
    await h.page.getByTestId('toggle-labelmap').check();
    await h.page.getByTestId('toggle-uncertainty').uncheck();
    const pending = (await hook(h.page, (t) => t.labelCounts()))[PENDING];
    await h.page.getByTestId('accept-slice').click();
    await settle();
    const after = await hook(h.page, (t) => t.labelCounts());
    expect(after[1]).toBeGreaterThan(500);
    expect(after[PENDING]).toBe(pending - after[1]);
    const img = await shot('viewer-5-accepted');
    expect(countPixels(img, rects.axial, isRed)).toBeGreaterThan(300);
    // the panels' volumes are the voxels counted afresh times the voxel volume
    const [sx, sy, sz] = await hook(h.page, (t) => t.spacing());
    const ml = (n: number) => (n * sx * sy * sz) / 1000;
    const shown = (id: string) => h.page.getByTestId(id).textContent();
    await expect.poll(() => shown('segment-ml-1')).toBe(`${formatMl(ml(after[1]))} mL`);
    if (after[PENDING]) expect(await shown('pending-ml')).toBe(`${formatMl(ml(after[PENDING]))} mL pending`);
    // and the accepted segment's RANO measurement, as core/src/diameters.ts makes it from the labels
    const dims = await hook(h.page, (t) => t.dims());
    const labels = new Uint8Array(dims[0] * dims[1] * dims[2]);
    const nz = await hook(h.page, (t) => t.nonZero());
    for (let n = 0; n < nz.length; n += 2) labels[nz[n]] = nz[n + 1];
    const m = bidimensional(
      labels,
      { dims, spacing: [sx, sy, sz], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
      1,
    )!;
    expect(m.k).toBe(K);
    await expect
      .poll(() => shown('segment-rano'))
      .toMatch(`${m.longestMm.toFixed(1)} × ${m.perpendicularMm.toFixed(1)} mm (axial slice ${K + 1})`);
    await goToSlice(h.page, 10);
    expect(await h.page.getByTestId('segment-rano-calipers').isChecked()).toBe(false);
    await h.page.getByTestId('segment-rano-go').click();
    await expect.poll(() => hook(h.page, (t) => t.slice('axial'))).toBe(K);
    // Go draws its calipers, on that slice where the measurement's ends are (within 1.5 px)
    await expect.poll(() => h.page.getByTestId('segment-rano-calipers').isChecked()).toBe(true);
    const expected = await Promise.all(
      [m.longestEnds, m.perpendicularEnds].map((ends) =>
        Promise.all(ends.map((e) => voxelToPage(h.page, e))),
      ),
    );
    await expect.poll(() => calipersDrawn(h.page, expected)).toBe(2);
    await shot('viewer-5-calipers');
    await goToSlice(h.page, K + 6);
    await expect.poll(() => calipersDrawn(h.page, expected)).toBe(0);
    await goToSlice(h.page, K);
    await expect.poll(() => calipersDrawn(h.page, expected)).toBe(2);
    await h.page.getByTestId('segment-rano-calipers').uncheck();
    await expect.poll(() => calipersDrawn(h.page, expected)).toBe(0);
    await h.page.getByTestId('segment-rano-calipers').check();
    await expect.poll(() => calipersDrawn(h.page, expected)).toBe(2);
    await h.page.getByTestId('undo').click();
    expect((await hook(h.page, (t) => t.labelCounts()))[1]).toBe(0);
    await expect.poll(() => shown('segment-ml-1')).toBe('0.00 mL');
    await h.page.getByTestId('redo').click();
    expect((await hook(h.page, (t) => t.labelCounts()))[1]).toBe(after[1]);
  });

  it('accepts and rejects one proposed lesion (3D connected component) with the lesion tool', async () => {
    const page = h.page;
    const [nx, ny, nz] = await hook(page, (t) => t.dims());
    const labels = new Uint8Array(nx * ny * nz);
    const nonZero = await hook(page, (t) => t.nonZero());
    for (let n = 0; n < nonZero.length; n += 2) labels[nonZero[n]] = nonZero[n + 1];
    // A pending voxel on slice K+1 whose in-plane neighbours are pending too (a click may round
    // to a neighbour); its component, computed here by core's own function, is what must change.
    const k = K + 1;
    let seed = -1;
    for (let v = k * nx * ny; v < (k + 1) * nx * ny && seed < 0; v++)
      if ([0, 1, -1, nx, -nx].every((d) => labels[v + d] === PENDING)) seed = v;
    expect(seed).toBeGreaterThan(0);
    const comp = connectedComponent(labels, [nx, ny, nz], seed, PENDING).length;
    expect(comp).toBeGreaterThan(50);
    const ijk: [number, number, number] = [seed % nx, Math.floor(seed / nx) % ny, k];
    await goToSlice(page, k);
    await settle();
    const at = await voxelToPage(page, ijk);
    const before = await hook(page, (t) => t.labelCounts());
    await page.locator('[data-tool="lesion"]').click();
    await page.keyboard.down('Shift');
    await page.mouse.click(at[0], at[1]);
    await page.keyboard.up('Shift');
    const rejected = await hook(page, (t) => t.labelCounts());
    expect(rejected[PENDING]).toBe(before[PENDING] - comp);
    expect(rejected[1]).toBe(before[1]);
    await expect
      .poll(() => page.getByTestId('notice').textContent())
      .toBe(`Rejected a lesion of ${comp} voxels`);
    await page.getByTestId('undo').click();
    expect(await hook(page, (t) => t.labelCounts())).toEqual(before);
    await page.mouse.click(at[0], at[1]);
    const accepted = await hook(page, (t) => t.labelCounts());
    expect(accepted[1]).toBe(before[1] + comp);
    expect(accepted[PENDING]).toBe(before[PENDING] - comp);
    await page.getByTestId('undo').click();
    expect(await hook(page, (t) => t.labelCounts())).toEqual(before);
    await page.locator('[data-tool="windowlevel"]').click();
    await goToSlice(page, K);
    await settle();
  });

  const painted: [number, number, number] = [0, 0, K];
  const erased: [number, number, number] = [0, 0, K];

  it('paints with the brush and erases with the eraser (mouse drags), with undo', async () => {
    const page = h.page;
    const before = (await hook(page, (t) => t.labelCounts()))[1];
    // A stroke across healthy tissue of the other hemisphere, 60 voxels long in i.
    const from = await hook(page, (t) => t.voxelToPage('axial', [150, 120, 80]));
    const to = await hook(page, (t) => t.voxelToPage('axial', [190, 120, 80]));
    await page.locator('[data-tool="brush"]').click();
    await drag(page, from, to, 10, 500);
    const brushed = (await hook(page, (t) => t.labelCounts()))[1];
    expect(brushed).toBeGreaterThan(before + 100);
    painted[0] = 170;
    painted[1] = 120;
    expect(await hook(page, (t) => t.labelAt([170, 120, 80]))).toBe(1);
    const img = await shot('viewer-6-brush');
    const mid = await hook(page, (t) => t.voxelToPage('axial', [170, 120, 80]));
    const [r, g, b] = pixel(img, mid[0], mid[1]);
    expect(isRed(r, g, b), `pixel ${r},${g},${b}`).toBe(true);

    // Erase the right end of the stroke.
    const e0 = await hook(page, (t) => t.voxelToPage('axial', [185, 110, 80]));
    const e1 = await hook(page, (t) => t.voxelToPage('axial', [185, 130, 80]));
    await page.locator('[data-tool="eraser"]').click();
    await drag(page, e0, e1, 6, 500);
    expect((await hook(page, (t) => t.labelCounts()))[1]).toBeLessThan(brushed);
    expect(await hook(page, (t) => t.labelAt([185, 120, 80]))).toBe(0);
    erased[0] = 185;
    erased[1] = 120;
    await shot('viewer-7-erased');

    await page.keyboard.press('Control+z');
    await page.waitForTimeout(200);
    expect(await hook(page, (t) => t.labelAt([185, 120, 80]))).toBe(1);
    expect((await hook(page, (t) => t.labelCounts()))[1]).toBe(brushed);
    await page.keyboard.press('Control+y');
    await page.waitForTimeout(200);
    expect(await hook(page, (t) => t.labelAt([185, 120, 80]))).toBe(0);
  });

  it('limits the threshold brush to voxels inside its intensity range', async () => {
    const page = h.page;
    const k = K + 12;
    await hook(page, (t) => t.goToSlice('axial', 92));
    await page.locator('[data-tool="threshold"]').click();
    const lo = Number(await page.getByTestId('threshold-lo').inputValue());
    const hi = Number(await page.getByTestId('threshold-hi').inputValue());
    const flair = await loadVolume(join(SAMPLE_CASE, 'flair.nii.gz'));
    const [nx, ny] = flair.dims;
    const val = (i: number, j: number) => flair.data[i + nx * (j + ny * k)];
    // A row through the bright tumour and the darker tissue around it.
    let best = 0;
    let row = 0;
    for (let j = 40; j < 200; j++) {
      let n = 0;
      for (let i = 40; i < 200; i++) if (val(i, j) >= lo) n++;
      if (n > best) [best, row] = [n, j];
    }
    const cols = Array.from({ length: 160 }, (_, n) => 40 + n).filter((i) => val(i, row) >= lo);
    const i0 = Math.max(40, cols[0] - 15);
    const i1 = Math.min(199, cols[cols.length - 1] + 15);
    const before = (await hook(page, (t) => t.labelCounts()))[1];
    await drag(page, await voxelToPage(page, [i0, row, k]), await voxelToPage(page, [i1, row, k]), 16, 500);
    expect((await hook(page, (t) => t.labelCounts()))[1]).toBeGreaterThan(before + 20);
    const labels = (await page.evaluate(
      `Array.from({ length: ${i1 - i0 + 1} }, (_, n) => window.__quorumTest.labelAt([${i0} + n, ${row}, ${k}]))`,
    )) as number[];
    let inside = 0;
    let outside = 0;
    labels.forEach((l, n) => {
      const v = val(i0 + n, row);
      if (l === 1) {
        expect(v, `voxel ${i0 + n} painted at ${v}`).toBeGreaterThanOrEqual(lo);
        expect(v).toBeLessThanOrEqual(hi);
        inside++;
      } else if (v < lo) outside++;
    });
    expect(inside).toBeGreaterThan(5);
    expect(outside).toBeGreaterThan(5);
    await shot('viewer-7b-threshold-brush');
    // Undo it so the export below sees the brush/eraser edits only.
    await page.getByTestId('undo').click();
    expect((await hook(page, (t) => t.labelCounts()))[1]).toBe(before);
    await hook(page, (t) => t.goToSlice('axial', 80));
  });

  it('exports the mask NIfTI on the source grid with the painted voxels set', async () => {
    const page = h.page;
    const path = await exportMaskNifti(page, out);
    expect(path.startsWith(out)).toBe(true);
    expect(existsSync(path)).toBe(true);

    const mask = await loadVolume(path);
    const src = await loadVolume(join(SAMPLE_CASE, 'flair.nii.gz'));
    expect(mask.dims).toEqual(src.dims);
    for (let n = 0; n < 3; n++) {
      expect(mask.spacing[n]).toBeCloseTo(src.spacing[n], 5);
      expect(mask.origin[n]).toBeCloseTo(src.origin[n], 4);
    }
    for (let n = 0; n < 9; n++) expect(mask.direction[n]).toBeCloseTo(src.direction[n], 5);
    const at = ([i, j, k]: number[]) => mask.data[i + mask.dims[0] * (j + mask.dims[1] * k)];
    expect(at(painted)).toBe(1);
    expect(at(erased)).toBe(0);
    let total = 0;
    for (let i = 0; i < mask.data.length; i++) total += mask.data[i] ? 1 : 0;
    expect(total).toBe((await hook(page, (t) => t.labelCounts()))[1]);
    expect(h.pageErrors).toEqual([]);
  });

  it('jumps to the most uncertain slice, switches layout and sequence, keeps the labelmap', async () => {
    const page = h.page;
    await page.getByTestId('next-uncertain').click();
    await settle();
    const k = await hook(page, (t) => t.slice('axial'));
    expect([K - 1, K, K + 1]).toContain(k);

    const three = countPixels(await shot('viewer-8-layout-1x3'), rects.axial, isGrey);
    await page.getByTestId('layout-1x1').click();
    await settle();
    const big = await hook(page, (t) => t.rect('axial'));
    expect(big.width).toBeGreaterThan(2 * rects.axial.width);
    // Same slice, fitted to the bigger viewport: the whole brain drawn, larger.
    expect(await hook(page, (t) => t.slice('axial'))).toBe(k);
    const one = await shot('viewer-8-layout-1x1');
    expect(countPixels(one, big, isGrey)).toBeGreaterThan(0.9 * three);
    await page.getByTestId('layout-1x3').click();
    await settle();

    const lesion = (await hook(page, (t) => t.labelCounts()))[1];
    await page.locator('button', { hasText: /^t1c$/ }).click();
    await page.waitForFunction(() => (window as unknown as { __quorumTest: Hook }).__quorumTest.ready());
    await hook(page, (t) => t.goToSlice('axial', 80));
    await settle();
    const t1c = await shot('viewer-9-t1c');
    expect(countPixels(t1c, rects.axial, isGrey)).toBeGreaterThan(
      0.05 * rects.axial.width * rects.axial.height,
    );
    expect(countPixels(t1c, inner(rects.axial), isRed)).toBeGreaterThan(300);
    expect((await hook(page, (t) => t.labelCounts()))[1]).toBe(lesion);
    await page.locator('[data-tool="crosshairs"]').click();
    await settle();
    await shot('viewer-10-crosshairs');
    expect(h.pageErrors).toEqual([]);
  });

  // Runs after the sequence switch above: editing must still work with T1c shown.
  it('fills the inside of a closed brush outline with the fill tool, with undo', async () => {
    const page = h.page;
    // leave the previous test's crosshairs first: with them on, a drag can grab a crosshair line
    await page.locator('[data-tool="windowlevel"]').click();
    const k = 68; // K - 12: a slice with no proposal and no edits so far (literal: hook bodies run in the page)
    await goToSlice(page, k);
    await settle();
    const pageAt = (i: number, j: number) => voxelToPage(page, [i, j, k]);
    // A closed square outline, 40 voxels a side, around (150, 120).
    const corners = [
      await pageAt(130, 100),
      await pageAt(170, 100),
      await pageAt(170, 140),
      await pageAt(130, 140),
    ];
    await page.locator('[data-tool="brush"]').click();
    await page.mouse.move(corners[0][0], corners[0][1]);
    await page.mouse.down();
    for (let c = 1; c <= 4; c++) {
      const [a, b] = [corners[c - 1], corners[c % 4]];
      // moves 4 voxels apart, under the 6 mm brush's width: the outline must be closed, or the fill leaks
      for (let s = 1; s <= 10; s++)
        await page.mouse.move(a[0] + ((b[0] - a[0]) * s) / 10, a[1] + ((b[1] - a[1]) * s) / 10);
    }
    await page.mouse.up();
    await page.waitForTimeout(500);
    const outline = (await hook(page, (t) => t.labelCounts()))[1];
    await shot('viewer-11-outline');
    expect(
      await hook(page, (t) => [t.slice('axial'), t.labelAt([130, 120, 68]), t.labelAt([150, 120, 68])]),
    ).toEqual([68, 1, 0]);
    await page.locator('[data-tool="fill"]').click();
    const centre = await pageAt(150, 120);
    await page.mouse.click(centre[0], centre[1]);
    await page.waitForTimeout(500);
    const filled = (await hook(page, (t) => t.labelCounts()))[1];
    expect(await hook(page, (t) => t.labelAt([150, 120, 68]))).toBe(1);
    // The interior of the outline, not the slice: at most the 41 x 41 square, at least its
    // part inside a 6 mm brush's half-width from the edges.
    expect(filled - outline).toBeGreaterThan(25 * 25);
    expect(filled - outline).toBeLessThan(41 * 41);
    expect(await hook(page, (t) => t.labelAt([100, 120, 68]))).toBe(0);
    await shot('viewer-11-fill');
    // Undo takes the fill back and keeps the outline; a second undo takes the outline.
    await page.getByTestId('undo').click();
    expect(await hook(page, (t) => [t.labelAt([150, 120, 68]), t.labelAt([130, 120, 68])])).toEqual([0, 1]);
    expect((await hook(page, (t) => t.labelCounts()))[1]).toBeLessThan(filled - 25 * 25);
    await page.getByTestId('undo').click();
    expect(await hook(page, (t) => t.labelAt([130, 120, 68]))).toBe(0);
    await page.locator('[data-tool="windowlevel"]').click();
  });

  it('cancels a whole-volume proposal at once and keeps the slices done', async () => {
    const page = h.page;
    const proposed = await hook(page, (t) => t.labelCounts());
    await page.getByTestId('members').fill('2');
    await page.getByTestId('steps').fill('2');
    // redraws of the sagittal view (every streamed slice crosses it) while the run streams
    await page.evaluate(() => {
      const w = window as unknown as { __redraws: number };
      w.__redraws = 0;
      document
        .querySelector('[data-viewport="sagittal"] .vp')!
        .addEventListener('CORNERSTONE_IMAGE_RENDERED', () => w.__redraws++);
    });
    const started = Date.now();
    await page.getByTestId('propose-all').click();
    // wait for 30 or more streamed slices of this run (a few batches), then cancel
    await page.getByTestId('run-count').waitFor({ timeout: 60_000 });
    await expect
      .poll(() => page.getByTestId('run-count').textContent(), { timeout: 90_000 })
      .toMatch(/^([3-9]\d|\d{3,})\//);
    const streamedFor = (Date.now() - started) / 1000;
    const redraws = await page.evaluate(() => (window as unknown as { __redraws: number }).__redraws);
    const streamed = Number(/^(\d+)\//.exec((await page.getByTestId('run-count').textContent())!)?.[1]);
    console.log(`${streamed} slices streamed in ${streamedFor.toFixed(1)} s, ${redraws} redraws`);
    // Streamed slices are drawn at most once a second (viewer STREAM_REDRAW_MS), not once each:
    // without a GPU every redraw of the three views costs ~0.3 s of the engine's CPU.
    expect(redraws).toBeLessThanOrEqual(Math.ceil(streamedFor) + 3);
    expect(redraws).toBeLessThan(streamed);
    const t0 = Date.now();
    await page.getByTestId('cancel').click();
    await page.getByTestId('run-message').filter({ hasText: 'Cancelled' }).waitFor({ timeout: 30_000 });
    // How fast is a speed target (npm run bench load: "cancel -> 'cancelled' event"), not asserted
    // here: on a loaded CI machine one swiftshader redraw alone can take seconds.
    console.log(`cancel took effect after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(await hook(page, (t) => t.runActive())).toBe(false);
    const msg = (await page.getByTestId('run-message').textContent())!;
    const done = Number(/Cancelled after (\d+) slices/.exec(msg)?.[1]);
    expect(done).toBeGreaterThan(0); // the slices streamed before the cancel are kept
    expect(done).toBeLessThan(100); // the run stopped far from the end of the volume
    // and stopped for good: nothing of the run arrives after 'Cancelled'
    const after = await hook(page, (t) => t.labelCounts());
    expect(after[PENDING]).toBeGreaterThanOrEqual(proposed[PENDING]);
    await page.waitForTimeout(1500);
    expect(await hook(page, (t) => t.labelCounts())).toEqual(after);
  });

  it('journals every edit, undo and redo through the API', async () => {
    const id = await hook(h.page, (t) => t.caseId());
    const records = (await h.host.service.readJournal(id!)).records;
    const ops = records.map((r) => r.op as { type: string; kind?: string });
    const edits = ops.filter((o) => o.type === 'edit').map((o) => o.kind);
    expect(edits).toEqual(expect.arrayContaining(['accept', 'brush', 'eraser']));
    expect(ops.filter((o) => o.type === 'undo').length).toBeGreaterThanOrEqual(2);
    expect(ops.filter((o) => o.type === 'redo').length).toBeGreaterThanOrEqual(2);
    expect(ops.some((o) => o.type === 'proposal')).toBe(true);
    const brush = records.find((r) => (r.op as { kind?: string }).kind === 'brush')!;
    expect(brush.bytes!.byteLength).toBe(6 * (brush.op as { voxels: number }).voxels);
  });
});

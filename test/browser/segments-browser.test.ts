import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { loadVolume } from '../../core/src/node/load.ts';
import type { SegmentInfo } from '../../core/src/segments.ts';
import { PENDING } from '../../renderer/src/lib/label-values.ts';
import { appForTests, drag, exportMaskNifti, quorumHook, voxelToPage } from '../helpers/browser-app.ts';
import { openApp } from './harness.ts';
import { countPixels, decodePng, isRed, pixel } from './viewer-png.ts';

/**
 * Segments in the real app (browser mode: in-process host, real engine and model, Chromium) on the
 * shipped sample case: a second segment is added and painted, a real proposal is accepted into the
 * first, a lock keeps the second from being painted over, the export reads back with both
 * segments (NIfTI values + the segments sidecar), and reopening the case replays the table and
 * the voxels from the journal.
 */
interface Hook {
  ready(): boolean;
  labelCounts(): Record<number, number>;
  labelAt(ijk: [number, number, number]): number;
  voxelToPage(id: 'axial', ijk: [number, number, number]): [number, number];
  goToSlice(id: 'axial', index: number): void;
  journalPending(): number;
  nonZero(): number[];
  segments(): SegmentInfo[];
  activeSegment(): number;
  restored(): { segmentChanges?: number; skipped: number } | undefined;
  rect(id: 'axial'): { x: number; y: number; width: number; height: number };
}
const hook = quorumHook<Hook>();
const labelAt = (page: Page, ijk: [number, number, number]) =>
  page.evaluate(`window.__quorumTest.labelAt(${JSON.stringify(ijk)})`) as Promise<number>;
const K = 80;

async function stroke(page: Page, a: [number, number], b: [number, number]) {
  await drag(page, await voxelToPage(page, [...a, K]), await voxelToPage(page, [...b, K]), 10, 500);
}

describe('segments in the browser on the sample case', () => {
  const app = appForTests('quorum-segments-browser');
  const out = join(app.state, 'export');

  it('a second segment painted, a proposal accepted into the first, a lock holds, and the export reads back with both', async () => {
    const { h, page } = app;
    expect(await hook(page, (t) => t.segments().map((s) => [s.value, s.name]))).toEqual([
      [1, 'Whole tumour'],
    ]);
    await hook(page, (t) => t.goToSlice('axial', 80));
    // A real proposal on slice K (0-based): pending voxels.
    await page.getByTestId('members').fill('3');
    await page.getByTestId('steps').fill('3');
    await page.getByTestId('range-from').fill(String(K + 1)); // the panel counts slices from 1
    await page.getByTestId('range-to').fill(String(K + 1));
    await page.getByTestId('propose-range').click();
    await page.getByTestId('run-message').filter({ hasText: 'Done' }).waitFor({ timeout: 150_000 });
    const pending = (await hook(page, (t) => t.labelCounts()))[PENDING];
    expect(pending).toBeGreaterThan(500);

    // A second segment, from the presets: it becomes the active one; the brush paints it.
    await page.getByTestId('segment-add-Edema').click();
    await expect.poll(() => hook(page, (t) => t.activeSegment())).toBe(2);
    expect(await hook(page, (t) => t.segments().map((s) => [s.value, s.name, s.colour]))).toEqual([
      [1, 'Whole tumour', [255, 40, 40]],
      [2, 'Edema', [40, 170, 255]],
    ]);
    await page.locator('[data-tool="brush"]').click();
    await stroke(page, [150, 120], [190, 120]); // healthy tissue of the other hemisphere
    expect(await labelAt(page, [170, 120, K])).toBe(2);
    const edema = (await hook(page, (t) => t.labelCounts()))[2];
    expect(edema).toBeGreaterThan(100);
    expect((await hook(page, (t) => t.labelCounts()))[1]).toBe(0);
    // Drawn in its own colour (blue), not the first segment's red.
    await page.getByTestId('toggle-uncertainty').uncheck();
    await page.waitForTimeout(300);
    const shot = decodePng(await h.screenshot('segments-1-edema'));
    const mid = await hook(page, (t) => t.voxelToPage('axial', [170, 120, 80]));
    const [r, g, b] = pixel(shot, mid[0], mid[1]);
    expect(b > r + 50 && !isRed(r, g, b), `pixel ${r},${g},${b}`).toBe(true);

    // Lock Edema, make Whole tumour active, paint across the Edema stroke: Edema keeps its voxels.
    await page.getByTestId('segment-lock-2').click();
    await page.getByTestId('segment-active-1').check();
    await expect.poll(() => hook(page, (t) => t.activeSegment())).toBe(1);
    await stroke(page, [170, 100], [170, 140]);
    expect(await labelAt(page, [170, 120, K])).toBe(2);
    expect(await labelAt(page, [170, 104, K])).toBe(1);
    expect((await hook(page, (t) => t.labelCounts()))[2]).toBe(edema);
    const painted1 = (await hook(page, (t) => t.labelCounts()))[1];

    // Accept the proposal of this slice: into the active segment (1); nothing pending is left.
    await page.locator('[data-tool="windowlevel"]').click();
    await page.getByTestId('accept-slice').click();
    await page.waitForTimeout(300);
    const counts = await hook(page, (t) => t.labelCounts());
    expect(counts[PENDING]).toBe(0);
    expect(counts[2]).toBe(edema);
    expect(counts[1]).toBeGreaterThan(painted1 + 0.9 * pending - edema);
    await expect.poll(() => hook(page, (t) => t.journalPending())).toBe(0);

    // Export the mask: the label values and the segment table come back from the files.
    const path = await exportMaskNifti(page, out);
    const mask = await loadVolume(path);
    const nonZero = await hook(page, (t) => t.nonZero());
    const inApp = new Map<number, number>();
    for (let n = 0; n < nonZero.length; n += 2) inApp.set(nonZero[n], nonZero[n + 1]);
    let mismatches = 0;
    const inFile: Record<number, number> = {};
    for (let i = 0; i < mask.data.length; i++) {
      const v = mask.data[i];
      if (v) inFile[v] = (inFile[v] ?? 0) + 1;
      if (v !== (inApp.get(i) ?? 0)) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(inFile).toEqual({ 1: counts[1], 2: counts[2] });
    const sidecar = JSON.parse(readFileSync(path.replace(/\.nii\.gz$/, '.segments.json'), 'utf8'));
    expect(sidecar).toEqual({
      segments: [
        { value: 1, name: 'Whole tumour', colour: [255, 40, 40] },
        { value: 2, name: 'Edema', colour: [40, 170, 255] },
      ],
    });
    expect(h.pageErrors).toEqual([]);
  });

  it('hides a segment, and reopening the case replays the segment table and both segments from the journal', async () => {
    const { h, page } = app;
    await page.getByTestId('segment-name-2').fill('Peritumoral edema');
    await page.getByTestId('segment-name-2').press('Enter');
    // The accepted proposal is drawn in red; hidden, it is not drawn, and Edema still is.
    const axial = await hook(page, (t) => t.rect('axial'));
    const edemaAt = await hook(page, (t) => t.voxelToPage('axial', [170, 120, 80]));
    const shown = decodePng(await h.screenshot('segments-2-shown'));
    expect(countPixels(shown, axial, isRed)).toBeGreaterThan(300);
    await page.getByTestId('segment-visible-1').click(); // hidden: still kept, still exported
    await page.waitForTimeout(400);
    const hidden = decodePng(await h.screenshot('segments-3-whole-tumour-hidden'));
    expect(countPixels(hidden, axial, isRed)).toBeLessThan(20);
    const [r, , b] = pixel(hidden, edemaAt[0], edemaAt[1]);
    expect(b > r + 50, `pixel at the edema stroke ${r},${b}`).toBe(true);
    await expect.poll(() => hook(page, (t) => t.segments()[1].name)).toBe('Peritumoral edema');
    await expect.poll(() => hook(page, (t) => t.journalPending())).toBe(0);
    const segments = await hook(page, (t) => t.segments());
    expect(segments.map((s) => [s.name, s.visible, s.locked])).toEqual([
      ['Whole tumour', false, false],
      ['Peritumoral edema', true, true],
    ]);
    const voxels = await hook(page, (t) => t.nonZero());

    await openApp(page, h.url); // a new page: the case opens again from its journal
    const restored = await hook(page, (t) => t.restored());
    expect(restored?.skipped).toBe(0);
    expect(restored?.segmentChanges).toBeGreaterThanOrEqual(6);
    expect(await hook(page, (t) => t.segments())).toEqual(segments);
    expect(await hook(page, (t) => t.activeSegment())).toBe(1);
    expect(await hook(page, (t) => t.nonZero())).toEqual(voxels);
    expect(h.pageErrors).toEqual([]);
  });

  it('deleting a segment (after a confirm) clears its voxels; undo brings both back, redo deletes again, as a reopen shows', async () => {
    const { h, page } = app;
    const before = await hook(page, (t) => t.labelCounts());
    const segments = await hook(page, (t) => t.segments());
    expect(segments[1].locked).toBe(true); // locked since the first test: it cannot be deleted
    expect(await page.getByTestId('segment-delete-2').isDisabled()).toBe(true);
    await page.getByTestId('segment-lock-2').click(); // unlocked, it can
    await page.getByTestId('segment-delete-2').click();
    await page.getByTestId('segment-delete-yes').click();
    await expect.poll(() => hook(page, (t) => t.segments().length)).toBe(1);
    const after = await hook(page, (t) => t.labelCounts());
    expect(after[2] ?? 0).toBe(0);
    expect(after[1]).toBe(before[1]);
    await page.keyboard.press('Control+z');
    await expect.poll(() => hook(page, (t) => t.segments().length)).toBe(2);
    expect((await hook(page, (t) => t.segments()))[1]).toEqual({ ...segments[1], locked: false });
    expect(await hook(page, (t) => t.labelCounts())).toEqual(before);
    await page.keyboard.press('Control+y');
    await expect.poll(() => hook(page, (t) => t.segments().length)).toBe(1);
    await expect.poll(() => hook(page, (t) => t.journalPending())).toBe(0);

    await openApp(page, h.url);
    expect(await hook(page, (t) => t.segments().map((s) => s.name))).toEqual(['Whole tumour']);
    const reopened = await hook(page, (t) => t.labelCounts());
    expect(reopened[2] ?? 0).toBe(0);
    expect(reopened[1]).toBe(before[1]);
    expect(h.pageErrors).toEqual([]);
  });
});

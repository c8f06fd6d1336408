import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JournalFile } from '../../workers/src/host/journal-store.ts';
import { scratchDir } from '../../workers/src/host/service.ts';
import { quorumHook, voxelToPage } from '../helpers/browser-app.ts';
import { type Harness, openApp, startHarness } from './harness.ts';

/**
 * Slice interpolation in the real app (host, WebSocket API, built renderer in Chromium) on the
 * sample case: a lesion brushed with the mouse on two axial slices, "Interpolate" fills the slices
 * between them with the WebAssembly pipeline served by the app itself (no request leaves the
 * host), as one undo step that the journal keeps across a reopen. And the 1x1 layout fits the
 * image to its (bigger) viewport.
 */
type Vp = 'axial' | 'sagittal' | 'coronal';
interface Hook {
  ready(): boolean;
  dims(): [number, number, number];
  rect(id: Vp): { x: number; y: number; width: number; height: number };
  voxelToPage(id: Vp, ijk: [number, number, number]): [number, number];
  goToSlice(id: Vp, index: number): void;
  slice(id: Vp): number;
  nonZero(): number[];
  journalPending(): number;
  canUndo(): boolean;
  restored(): { edits: number; undos: number } | undefined;
}
const hook = quorumHook<Hook>();

/** Two tumour slices of pat0003 (0-based axial k) with 5 empty slices between them. */
const K1 = 76;
const K2 = 82;

describe('slice interpolation and the 1x1 layout in the browser', () => {
  const state = scratchDir('quorum-interpolate-browser');
  let h: Harness;
  let page: Page;
  const settle = () => page.waitForTimeout(400);
  /** Label-1 voxels per axial slice. */
  const perSlice = async (): Promise<Map<number, number>> => {
    const [nx, ny] = await hook(page, (t) => t.dims());
    const nz = await hook(page, (t) => t.nonZero());
    const out = new Map<number, number>();
    for (let n = 0; n < nz.length; n += 2) {
      if (nz[n + 1] !== 1) continue;
      const k = Math.floor(nz[n] / (nx * ny));
      out.set(k, (out.get(k) ?? 0) + 1);
    }
    return out;
  };
  /** A filled blob: parallel brush strokes over [i0, i1] x [j0, j1] on slice k. */
  const paintBlob = async (k: number, i0: number, i1: number, j0: number, j1: number) => {
    await page.evaluate(`window.__quorumTest.goToSlice('axial', ${JSON.stringify(k)})`);
    await settle();
    for (let j = j0; j <= j1; j += 4) {
      const p = await voxelToPage(page, [i0, j, k]);
      const q = await voxelToPage(page, [i1, j, k]);
      await page.mouse.move(p[0], p[1]);
      await page.mouse.down();
      for (let s = 1; s <= 8; s++) await page.mouse.move(p[0] + ((q[0] - p[0]) * s) / 8, p[1]);
      await page.mouse.up();
      await page.waitForTimeout(150);
    }
  };
  /** How much of the viewport the axial image spans: 1 when it fits (width or height). */
  const axialFill = async () => {
    const [nx, ny] = await hook(page, (t) => t.dims());
    const k = await hook(page, (t) => t.slice('axial'));
    const r = await hook(page, (t) => t.rect('axial'));
    const a = await voxelToPage(page, [0, 0, k]);
    const b = await voxelToPage(page, [nx - 1, ny - 1, k]);
    // Corner voxel centres are one voxel short of the image's full extent.
    const w = (Math.abs(b[0] - a[0]) * nx) / (nx - 1);
    const hgt = (Math.abs(b[1] - a[1]) * ny) / (ny - 1);
    return Math.max(w / r.width, hgt / r.height);
  };

  beforeAll(async () => {
    h = await startHarness({ stateDir: state });
    page = h.page;
    await openApp(page, h.url);
  });
  afterAll(async () => {
    await h?.cleanup();
    rmSync(state, { recursive: true, force: true });
  });

  it('fills the slices between two brushed slices, as one undo step', async () => {
    expect((await perSlice()).size).toBe(0);
    await page.locator('[data-tool="brush"]').click();
    await paintBlob(K1, 110, 140, 100, 124);
    await paintBlob(K2, 118, 146, 108, 128);
    await expect.poll(() => hook(page, (t) => t.journalPending())).toBe(0);
    const drawn = await perSlice();
    expect([...drawn.keys()].sort()).toEqual([K1, K2]);

    await page.getByTestId('interpolate').click();
    await expect.poll(async () => (await perSlice()).size, { timeout: 30_000 }).toBe(K2 - K1 + 1);
    const filled = await perSlice();
    // Each slice between holds a lesion about the size of the drawn ones; none outside [K1, K2].
    const lo = Math.min(drawn.get(K1)!, drawn.get(K2)!);
    for (let k = K1 + 1; k < K2; k++) expect(filled.get(k), `slice ${k}`).toBeGreaterThan(0.5 * lo);
    expect([...filled.keys()].every((k) => k >= K1 && k <= K2)).toBe(true);
    expect(filled.get(K1)).toBe(drawn.get(K1));
    expect(filled.get(K2)).toBe(drawn.get(K2));
    await page.evaluate(`window.__quorumTest.goToSlice('axial', ${(K1 + K2) >> 1})`);
    await settle();
    await h.screenshot('interpolate-filled');
    // The pipeline came from the app's own origin: nothing was fetched from anywhere else.
    expect(h.externalRequests).toEqual([]);

    await page.getByTestId('undo').click();
    await expect.poll(async () => [...(await perSlice()).keys()].sort()).toEqual([K1, K2]);
    await page.getByTestId('redo').click();
    await expect.poll(async () => (await perSlice()).size).toBe(K2 - K1 + 1);
    expect(await perSlice()).toEqual(filled);
    // Undo, then the shortcut (Shift+I, along the active axial view): the same fill again.
    await page.getByTestId('undo').click();
    await expect.poll(async () => (await perSlice()).size).toBe(2);
    await page.keyboard.press('Shift+I');
    await expect.poll(async () => (await perSlice()).size, { timeout: 30_000 }).toBe(K2 - K1 + 1);
    expect(await perSlice()).toEqual(filled);
    await expect.poll(() => hook(page, (t) => t.journalPending())).toBe(0);
    expect(h.pageErrors).toEqual([]);
  });

  it('is journalled: reopening the case restores the interpolated slices', async () => {
    const before = await perSlice();
    const dir = join(state, 'journal');
    const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.qjournal'))!);
    const kinds = new JournalFile(file).read().records.map((r) => `${r.op.type}:${r.op.kind ?? ''}`);
    expect(kinds.slice(-5)).toEqual([
      'edit:interpolate',
      'undo:interpolate',
      'redo:interpolate',
      'undo:interpolate',
      'edit:interpolate',
    ]);
    await openApp(page, h.url);
    expect(await hook(page, (t) => t.restored()?.undos)).toBe(2);
    expect(await perSlice()).toEqual(before);
    expect(await hook(page, (t) => t.canUndo())).toBe(true);
  });

  it('the 1x1 layout fits the image to its viewport, and 1x3 fits it back', async () => {
    await settle();
    const three = await axialFill();
    expect(three).toBeGreaterThan(0.9);
    expect(three).toBeLessThan(1.05);
    const k = await hook(page, (t) => t.slice('axial'));
    await page.getByTestId('layout-1x1').click();
    await settle();
    expect(await hook(page, (t) => t.slice('axial'))).toBe(k); // same slice
    const one = await axialFill();
    await h.screenshot('interpolate-layout-1x1');
    expect(one).toBeGreaterThan(0.9);
    expect(one).toBeLessThan(1.05);
    await page.getByTestId('layout-1x3').click();
    await settle();
    expect(await axialFill()).toBeGreaterThan(0.9);
    expect(await axialFill()).toBeLessThan(1.05);
    expect(await hook(page, (t) => t.slice('axial'))).toBe(k);
  });
});

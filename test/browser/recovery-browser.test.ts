import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PENDING } from '../../renderer/src/lib/label-values.ts';
import { scratchDir } from '../../workers/src/host/service.ts';
import { drag, quorumHook, voxelToPage } from '../helpers/browser-app.ts';
import { children, spawnHost } from '../helpers/host-process.ts';
import {
  buildRenderer,
  CHROMIUM,
  CHROMIUM_ARGS,
  openApp,
  REPO,
  rendererStale,
  TEST_VIEWPORT,
} from './harness.ts';
import { countPixels, decodePng, isGreen, isRed, type Region } from './viewer-png.ts';

/**
 * "Never lose work", end to end: the browser-mode host runs as its own process (as `npm run web`
 * starts it), the renderer in Chromium proposes, accepts, paints, erases and undoes on the sample
 * case, then the host is killed with SIGKILL. A new host on the same state folder and a reload
 * must restore the exact labelmap (every voxel), the proposal, the undo/redo stacks, and say so.
 */
interface Hook {
  ready(): boolean;
  labelCounts(): Record<number, number>;
  rect(id: 'axial'): Region;
  goToSlice(id: 'axial', index: number): void;
  nonZero(): number[];
  journalPending(): number;
  canUndo(): boolean;
  canRedo(): boolean;
  runActive(): boolean;
  restored():
    | { edits: number; undos: number; redos: number; proposalSlices: number; skipped: number }
    | undefined;
}
const hook = quorumHook<Hook>();

const K = 80;
const state = scratchDir('quorum-recovery-browser');
const state2 = scratchDir('quorum-recovery-browser-engine');
const hosts: ChildProcess[] = [];

async function startHost(stateDir = state): Promise<{ proc: ChildProcess; url: string }> {
  const h = await spawnHost(stateDir);
  hosts.push(h.proc);
  return h;
}

/** Waits until the host has acknowledged (fsynced) every journal append; returns the wait in ms. */
async function journalled(page: Page): Promise<number> {
  const t0 = Date.now();
  await page.waitForFunction(
    () => (window as unknown as { __quorumTest: Hook }).__quorumTest.journalPending() === 0,
  );
  return Date.now() - t0;
}

describe('crash recovery in the browser (kill -9 of the host mid-editing)', () => {
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (rendererStale()) buildRenderer();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    page = await (await browser.newContext({ viewport: TEST_VIEWPORT })).newPage();
  });
  afterAll(async () => {
    await browser?.close().catch(() => {});
    for (const h of hosts) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
    rmSync(state, { recursive: true, force: true });
    rmSync(state2, { recursive: true, force: true });
  });

  it('restores every drawn voxel, the proposal and undo/redo after the host is killed, and says so', async () => {
    let host = await startHost();
    await openApp(page, host.url);
    expect(await hook(page, (t) => t.restored())).toBeUndefined();

    // A real proposal on two slices, accepted on one of them.
    await hook(page, (t) => t.goToSlice('axial', 80));
    await page.getByTestId('members').fill('2');
    await page.getByTestId('steps').fill('2');
    await page.getByTestId('range-from').fill(String(K));
    await page.getByTestId('range-to').fill(String(K + 1));
    await page.getByTestId('propose-range').click();
    await page.getByTestId('run-message').filter({ hasText: 'Done' }).waitFor({ timeout: 150_000 });
    await page.getByTestId('accept-slice').click();

    // Paint two strokes, erase across the first, undo twice and redo once: the eraser stroke is
    // left undone on the redo stack.
    await page.locator('[data-tool="brush"]').click();
    const p = (i: number, j: number) => voxelToPage(page, [i, j, K]);
    await drag(page, await p(60, 60), await p(100, 80));
    await drag(page, await p(170, 170), await p(190, 150));
    await page.locator('[data-tool="eraser"]').click();
    await drag(page, await p(80, 55), await p(80, 90));
    const erased = (await hook(page, (t) => t.labelCounts()))[1];
    await page.getByTestId('undo').click(); // the eraser
    await page.getByTestId('undo').click(); // the second stroke
    await page.getByTestId('redo').click(); // the second stroke again
    const wait = await journalled(page);
    console.log(`journal acknowledged ${wait} ms after the last action`);
    expect(wait).toBeLessThan(1000);

    const drawn = await hook(page, (t) => t.nonZero());
    const counts = await hook(page, (t) => t.labelCounts());
    expect(counts[1]).toBeGreaterThan(500); // accepted lesion + brush
    expect(erased).toBeLessThan(counts[1]); // the eraser took voxels off
    expect(counts[PENDING]).toBeGreaterThan(200); // the other slice's pending proposal
    expect(await hook(page, (t) => [t.canUndo(), t.canRedo()])).toEqual([true, true]);

    host.proc.kill('SIGKILL');
    await new Promise((r) => host.proc.once('exit', r));
    host = await startHost();
    await openApp(page, host.url);

    const restored = await hook(page, (t) => t.restored());
    expect(restored).toMatchObject({ edits: 4, undos: 2, redos: 1, proposalSlices: 2, skipped: 0 });
    await expect.poll(() => page.getByTestId('restored-notice').textContent()).toMatch(/Restored your work/);
    const back = await hook(page, (t) => t.nonZero());
    expect(back.length).toBe(drawn.length);
    let diff = 0;
    for (let i = 0; i < drawn.length; i++) if (back[i] !== drawn[i]) diff++;
    expect(diff).toBe(0);

    // The restored state is on screen: accepted lesion in red, the pending proposal in green.
    await page.getByTestId('toggle-uncertainty').uncheck();
    await hook(page, (t) => t.goToSlice('axial', 80));
    await page.waitForTimeout(400);
    const rect = await hook(page, (t) => t.rect('axial'));
    const onK = decodePng(
      await page.screenshot({ path: join(REPO, 'test-results', 'browser', 'recovery-restored.png') }),
    );
    expect(countPixels(onK, rect, isRed)).toBeGreaterThan(300);
    // (the range inputs are 1-based like the slice label: the other proposed slice is K - 1)
    let pendingAt = -1;
    for (let n = 1; n < drawn.length && pendingAt < 0; n += 2)
      if (drawn[n] === PENDING) pendingAt = drawn[n - 1];
    const kPending = Math.floor(pendingAt / (240 * 240));
    expect(kPending).toBe(K - 1);
    await page.evaluate(
      (k) => (window as unknown as { __quorumTest: Hook }).__quorumTest.goToSlice('axial', k),
      kPending,
    );
    await page.waitForTimeout(400);
    const onK1 = decodePng(
      await page.screenshot({ path: join(REPO, 'test-results', 'browser', 'recovery-restored-pending.png') }),
    );
    expect(countPixels(onK1, rect, isGreen)).toBeGreaterThan(100);

    // The undo history came back too: redo re-applies the eraser stroke undone before the crash.
    await page.getByTestId('redo').click();
    expect((await hook(page, (t) => t.labelCounts()))[1]).toBe(erased);
    await page.getByTestId('undo').click();
    expect(await hook(page, (t) => t.nonZero())).toEqual(drawn);
    await journalled(page);

    // "Start over" forgets it, also for the next opening.
    await page.getByTestId('restored-discard').click();
    await expect.poll(() => hook(page, (t) => t.nonZero().length)).toBe(0);
    await journalled(page);
    await openApp(page, host.url);
    expect(await hook(page, (t) => t.restored())).toBeUndefined();
    expect(await hook(page, (t) => t.nonZero().length)).toBe(0);
    host.proc.kill('SIGKILL');
  });

  it('kill -9 of the engine mid-proposal: the UI reports the lost run, keeps every drawn voxel, and proposes again', async () => {
    const host = await startHost(state2);
    await openApp(page, host.url);
    await hook(page, (t) => t.goToSlice('axial', 80));
    await page.locator('[data-tool="brush"]').click();
    const p = (i: number, j: number) => voxelToPage(page, [i, j, K]);
    await drag(page, await p(150, 120), await p(190, 120));
    await journalled(page);
    const drawn = await hook(page, (t) => t.nonZero());
    expect(drawn.length / 2).toBeGreaterThan(100);

    const engine = () => children(host.proc.pid!).find((c) => /engine\/main\.ts/.test(c.cmd));
    await expect.poll(engine, { timeout: 30_000 }).toBeDefined();
    await page.locator('[data-tool="windowlevel"]').click();
    await page.getByTestId('members').fill('2');
    await page.getByTestId('steps').fill('30');
    await page.getByTestId('range-from').fill('70');
    await page.getByTestId('range-to').fill('90');
    await page.getByTestId('propose-range').click();
    await page.getByTestId('run-count').waitFor({ timeout: 60_000 });
    process.kill(engine()!.pid, 'SIGKILL');
    const msg = page.getByTestId('run-message');
    await msg.waitFor({ timeout: 30_000 });
    console.log(`after the engine was killed: ${await msg.textContent()}`);
    expect(await msg.textContent()).toMatch(/engine process stopped.*this run was lost/);
    expect(await hook(page, (t) => t.runActive())).toBe(false);
    // What was drawn is untouched (slices that streamed in before the kill only add pending voxels).
    const after = new Map<number, number>();
    const now = await hook(page, (t) => t.nonZero());
    for (let n = 0; n < now.length; n += 2) after.set(now[n], now[n + 1]);
    let lost = 0;
    for (let n = 0; n < drawn.length; n += 2) if (after.get(drawn[n]) !== drawn[n + 1]) lost++;
    expect(lost).toBe(0);

    // The next proposal starts a fresh engine and completes.
    await page.getByTestId('steps').fill('2');
    await page.getByTestId('range-from').fill('80');
    await page.getByTestId('range-to').fill('80');
    await page.getByTestId('propose-range').click();
    await page.getByTestId('run-message').filter({ hasText: 'Done' }).waitFor({ timeout: 120_000 });
    expect((await hook(page, (t) => t.labelCounts()))[PENDING]).toBeGreaterThan(100);
    host.proc.kill('SIGKILL');
  });
});

import { rmSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import type { Registration } from '../../core/src/lists.ts';
import { scratchDir } from '../../workers/src/host/service.ts';
import { type Harness, type HarnessOptions, openApp, startHarness } from '../browser/harness.ts';

/**
 * What the browser tests repeat around the app: one host and Chromium per describe block, the
 * renderer's test hook, the Open dialog, and the wait for the case an open brings.
 */

export interface TestApp {
  /** The host's state folder (journal, pacs-cache, ...), fresh for the block and removed after it. */
  readonly state: string;
  readonly h: Harness;
  readonly page: Page;
}

/**
 * Starts the browser-mode host on a fresh state folder with Chromium before the block's tests
 * (and opens the app, unless `open: false`); stops them and removes the folder after.
 */
export function appForTests(name: string, opts: HarnessOptions & { open?: boolean } = {}): TestApp {
  const { open = true, ...harness } = opts;
  const state = scratchDir(name);
  let started: Harness | undefined;
  beforeAll(async () => {
    started = await startHarness({ stateDir: state, ...harness });
    if (open) await openApp(started.page, started.url);
  });
  afterAll(async () => {
    await started?.cleanup();
    rmSync(state, { recursive: true, force: true });
  });
  return {
    state,
    get h() {
      if (!started) throw new Error(`${name}: the app is used before its beforeAll has started it`);
      return started;
    },
    get page() {
      return this.h.page;
    },
  };
}

/**
 * Calls the renderer's test hook (renderer/src/lib/test-hook.ts, `window.__quorumTest`); `H` is
 * the part of it a test file uses.
 */
export function quorumHook<H>() {
  return <T>(page: Page, fn: (h: H) => T): Promise<T> =>
    page.evaluate(`(${fn.toString()})(window.__quorumTest)`) as Promise<T>;
}

/** Waits until the viewer is ready with a case other than `before` (an open has replaced it). */
export async function waitForOtherCase(
  page: Page,
  before: string | undefined,
  timeout = 60_000,
): Promise<void> {
  await page.waitForFunction(
    (id) => {
      const t = (window as unknown as { __quorumTest: { ready(): boolean; caseId(): string | undefined } })
        .__quorumTest;
      return t.ready() && t.caseId() !== id;
    },
    before,
    { timeout },
  );
}

/** Opens `casePath` from the Open dialog (Open… in the toolbar), with a label file and an alignment. */
export async function openFromDialog(
  page: Page,
  casePath: string,
  opts: { labels?: string; register?: Registration } = {},
): Promise<void> {
  await page.getByRole('button', { name: 'Open…' }).click();
  await page.getByPlaceholder('/path/to/case').fill(casePath);
  if (opts.labels !== undefined) await page.getByTestId('open-labels').fill(opts.labels);
  if (opts.register) await page.getByTestId('open-register').selectOption(opts.register);
  await page.getByRole('button', { name: 'Open', exact: true }).click();
}

/** Page position of voxel (i, j, k)'s centre in the axial view. */
export function voxelToPage(page: Page, ijk: [number, number, number]): Promise<[number, number]> {
  return page.evaluate(
    (v) =>
      (
        window as unknown as {
          __quorumTest: { voxelToPage(id: 'axial', ijk: [number, number, number]): [number, number] };
        }
      ).__quorumTest.voxelToPage('axial', v),
    ijk,
  );
}

/**
 * A mouse drag from page point `a` to `b` in `steps` moves (a brush or eraser stroke with the tool
 * chosen), then `settleMs` for the app to record it (it does just after mouse-up).
 */
export async function drag(page: Page, a: [number, number], b: [number, number], steps = 8, settleMs = 300) {
  await page.mouse.move(a[0], a[1]);
  await page.mouse.down();
  for (let s = 1; s <= steps; s++)
    await page.mouse.move(a[0] + ((b[0] - a[0]) * s) / steps, a[1] + ((b[1] - a[1]) * s) / steps);
  await page.mouse.up();
  if (settleMs) await page.waitForTimeout(settleMs);
}

/**
 * Exports the mask NIfTI alone (the default uncertainty map and report unticked) into `dir` from
 * the Export panel; returns the path the panel reports.
 */
export async function exportMaskNifti(page: Page, dir: string): Promise<string> {
  for (const f of ['nifti-uncertainty', 'report-json']) await page.getByTestId(`fmt-${f}`).uncheck();
  await page.getByTestId('fmt-nifti-mask').check();
  await page.getByTestId('export-dir').fill(dir);
  await page.getByTestId('export').click();
  const line = page.locator('[data-testid="export-result"] [data-format="nifti-mask"]');
  await line.waitFor({ timeout: 60_000 });
  return (await line.textContent())!.trim();
}

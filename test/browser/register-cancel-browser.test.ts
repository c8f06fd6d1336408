import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../../workers/src/host/service.ts';
import { DATA, type Harness, openApp, startHarness } from './harness.ts';

/**
 * A rigid registration started from the Open dialog can be cancelled from the busy overlay: the
 * open stops (the engine's elastix run with it), the case that was open stays open, and the next
 * open works. Real elastix in the real engine process, real Chromium.
 */
interface Hook {
  ready(): boolean;
  caseId(): string | undefined;
}
const hook = <T>(page: Page, fn: (h: Hook) => T): Promise<T> =>
  page.evaluate(`(${fn.toString()})(window.__quorumTest)`) as Promise<T>;

const PAT222 = join(DATA, 'brats-4seq', 'brats2015-tcia-pat222');
const TCGA = join(DATA, 'tcga-lgg', 'TCGA_CS_4941_19960909');

describe('registration: Cancel in the busy overlay (browser)', () => {
  const state = scratchDir('quorum-register-cancel-browser');
  let h: Harness;
  let page: Page;

  beforeAll(async () => {
    h = await startHarness({ stateDir: state, initialCase: TCGA });
    page = h.page;
  });
  afterAll(async () => {
    await h?.cleanup();
    rmSync(state, { recursive: true, force: true });
  });

  async function openWith(path: string, register: 'rigid' | 'none') {
    await page.getByRole('button', { name: 'Open…' }).click();
    await page.getByPlaceholder('/path/to/case').fill(path);
    await page.getByTestId('open-register').selectOption(register);
    await page.getByRole('button', { name: 'Open', exact: true }).click();
  }

  it('cancels a running registration; the open case stays, and the next open works', async () => {
    await openApp(page, h.url);
    const before = await hook(page, (t) => t.caseId());
    expect(before).toBeTruthy();

    await openWith(PAT222, 'rigid');
    const cancel = page.getByTestId('open-cancel');
    await cancel.waitFor({ timeout: 30_000 });
    await cancel.click();
    await cancel.waitFor({ state: 'detached', timeout: 30_000 });
    await expect
      .poll(() => page.getByRole('alert').first().textContent(), { timeout: 30_000 })
      .toMatch(/cancel/i);
    expect(await hook(page, (t) => t.caseId())).toBe(before); // nothing was opened
    await h.screenshot('register-cancelled');

    // The next open (world coordinates) opens: the engine came back after the cancel.
    await openWith(PAT222, 'none');
    await page.waitForFunction(
      (id) => {
        const t = (window as unknown as { __quorumTest: Hook }).__quorumTest;
        return t.ready() && t.caseId() !== id;
      },
      before,
      { timeout: 60_000 },
    );
    expect(await page.getByTestId('open-cancel').count()).toBe(0);
  });
});

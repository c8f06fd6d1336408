import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appForTests, openFromDialog, quorumHook, waitForOtherCase } from '../helpers/browser-app.ts';
import { DATA, openApp } from './harness.ts';

/**
 * A rigid registration started from the Open dialog can be cancelled from the busy overlay: the
 * open stops (the engine's elastix run with it), the case that was open stays open, and the next
 * open works. Real elastix in the real engine process, real Chromium.
 */
interface Hook {
  ready(): boolean;
  caseId(): string | undefined;
}
const hook = quorumHook<Hook>();

const PAT222 = join(DATA, 'brats-4seq', 'brats2015-tcia-pat222');
const TCGA = join(DATA, 'tcga-lgg', 'TCGA_CS_4941_19960909');

describe('registration: Cancel in the busy overlay (browser)', () => {
  const app = appForTests('quorum-register-cancel-browser', { initialCase: TCGA, open: false });

  it('cancels a running registration; the open case stays, and the next open works', async () => {
    const { h, page } = app;
    await openApp(page, h.url);
    const before = await hook(page, (t) => t.caseId());
    expect(before).toBeTruthy();

    await openFromDialog(page, PAT222, { register: 'rigid' });
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
    await openFromDialog(page, PAT222, { register: 'none' });
    await waitForOtherCase(page, before);
    expect(await page.getByTestId('open-cancel').count()).toBe(0);
  });
});

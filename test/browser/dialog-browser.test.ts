import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { ModelManifest } from '../../core/src/manifest.ts';
import { appForTests } from '../helpers/browser-app.ts';
import { REPO } from '../helpers/paths.ts';
import { DATA } from './harness.ts';

/**
 * The one modal dialog (renderer/src/components/Dialog.svelte), on the Open dialog in Chromium:
 * named by its title, modal, focus moved in and kept in (Tab wraps), Escape closes it (also with
 * the focus fallen out of it) and gives the focus back, and the viewer's letter shortcuts do not
 * fire while it is open. The PACS panel's Escape during a transfer is in pacs-browser.test.ts.
 * About the model shows the shipped manifest's model card (models/train/model_card.py).
 */
const TCGA = join(DATA, 'tcga-lgg', 'TCGA_CS_4941_19960909');

const focused = (page: Page) =>
  page.evaluate(() => {
    const a = document.activeElement as HTMLElement | null;
    return a?.getAttribute('placeholder') ?? a?.textContent?.trim();
  });

describe('Dialog: the Open dialog as a modal (browser)', () => {
  const app = appForTests('quorum-dialog-browser', { initialCase: TCGA });

  it('takes the focus and keeps it, keeps the shortcuts out, and closes on Escape giving the focus back', async () => {
    const { h, page } = app;
    const opener = page.getByRole('button', { name: 'Open…' });
    const dialog = page.getByRole('dialog', { name: 'Open a case' });
    const brushOn = async () =>
      ((await page.locator('[data-tool="brush"]').getAttribute('class')) ?? '').split(/\s+/).includes('on');
    await opener.click();
    await dialog.waitFor();
    expect(await dialog.getAttribute('aria-modal')).toBe('true');
    expect(await focused(page)).toMatch(/^\/path\/to\/case/);

    // Tab from the last control wraps to the first, Shift+Tab from the first to the last.
    await dialog.getByTestId('dialog-close').focus();
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('Folder…');
    await page.keyboard.press('Shift+Tab');
    expect(await focused(page)).toBe('Close');

    // B is the brush outside the dialog; in it (on a button, not a text field) it does nothing.
    expect(await brushOn()).toBe(false);
    await page.keyboard.press('b');
    await page.waitForTimeout(200);
    expect(await brushOn()).toBe(false);
    await h.screenshot('dialog-open');

    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await focused(page)).toBe('Open…');
    // With the dialog gone the same key picks the brush (so the check above could fail).
    await page.keyboard.press('b');
    await expect.poll(brushOn).toBe(true);

    // The focus fallen out of the dialog (onto the page): Escape still closes it.
    await opener.click();
    await dialog.waitFor();
    await page.evaluate(() => (document.activeElement as HTMLElement).blur());
    expect(await page.evaluate(() => document.activeElement === document.body)).toBe(true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(h.pageErrors).toEqual([]);
  });

  it("About the model shows the shipped manifest's name, version and model card, and closes on Escape", async () => {
    const { h, page } = app;
    const m = JSON.parse(
      readFileSync(join(REPO, 'models', 'quorum-wt-v2', 'manifest.json'), 'utf8'),
    ) as ModelManifest;
    const card = m.card as NonNullable<ModelManifest['card']>;
    expect(await page.getByTestId('model-label').textContent()).toBe(`${m.name} ${m.version}`);
    await page.getByTestId('about-model').click();
    const dialog = page.getByRole('dialog', { name: 'About the model' });
    await dialog.waitFor();
    expect(await dialog.getByTestId('model-name').textContent()).toContain(`version ${m.version}`);
    expect(await dialog.getByTestId('model-use').textContent()).toBe(card.intendedUse);
    expect(await dialog.getByTestId('model-expected').locator('li').allTextContents()).toEqual(card.expected);
    expect(await dialog.getByTestId('model-limitations').locator('li').allTextContents()).toEqual(
      card.limitations,
    );
    await h.screenshot('about-model');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe('About the model…');
    expect(h.pageErrors).toEqual([]);
  });
});

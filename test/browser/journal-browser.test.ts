import { randomBytes } from 'node:crypto';
import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { JournalFile, journalIo } from '../../workers/src/host/journal-store.ts';
import { appForTests, drag, quorumHook, voxelToPage } from '../helpers/browser-app.ts';
import { openApp } from './harness.ts';

/**
 * The journal's failure modes in the real app (in-process host, real WebSocket, Chromium): a write
 * error (the disk filling up, injected at the host's one write call) shows "Not saved" and pauses
 * editing until a retry writes every pending record in order; a garbled journal tail is set aside
 * at open with a notice, and the case opens with every good record.
 */
interface Hook {
  ready(): boolean;
  labelCounts(): Record<number, number>;
  goToSlice(id: 'axial', index: number): void;
  journalPending(): number;
  restored(): { edits: number } | undefined;
}
const hook = quorumHook<Hook>();
const K = 80;
const realWrite = journalIo.write;

async function stroke(page: Page, a: [number, number], b: [number, number]) {
  await drag(page, await voxelToPage(page, [...a, K]), await voxelToPage(page, [...b, K]));
}

describe('journal write errors and garbled tails in the browser', () => {
  const app = appForTests('quorum-journal-browser', { open: false });
  const { state } = app;
  const journalDir = join(state, 'journal');
  const journalFile = () => join(journalDir, readdirSync(journalDir).find((f) => f.endsWith('.qjournal'))!);
  const onDisk = () => new JournalFile(journalFile()).read().records;

  afterAll(() => {
    journalIo.write = realWrite;
  });

  it('disk full: "Not saved" shown, edits blocked, then every pending record written in order', async () => {
    const { h, page } = app;
    await openApp(page, h.url);
    await hook(page, (t) => t.goToSlice('axial', 80));
    await page.locator('[data-tool="brush"]').click();
    await stroke(page, [60, 60], [100, 80]);
    await expect.poll(() => hook(page, (t) => t.journalPending())).toBe(0);
    expect(onDisk().length).toBe(1);

    journalIo.write = () => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    await stroke(page, [150, 150], [190, 150]); // drawn, but the journal cannot take it
    const box = page.getByTestId('not-saved');
    await box.waitFor({ timeout: 10_000 });
    expect(await box.textContent()).toMatch(/Not saved.*disk is full.*Editing is paused/s);
    expect(await hook(page, (t) => t.journalPending())).toBe(1);
    expect(onDisk().length).toBe(1); // nothing half-written
    // Edits are blocked: edit tools and undo disabled, the brush put away, a stroke paints nothing.
    expect(await page.locator('[data-tool="brush"]').isDisabled()).toBe(true);
    expect(await page.locator('[data-tool="eraser"]').isDisabled()).toBe(true);
    expect(await page.getByTestId('undo').isDisabled()).toBe(true);
    expect(await page.getByTestId('accept-slice').isDisabled()).toBe(true);
    expect(await page.locator('[data-tool="windowlevel"]').getAttribute('class')).toMatch(/\bon\b/);
    const counts = await hook(page, (t) => t.labelCounts());
    await page.keyboard.press('b'); // the brush key does not bring it back either
    await stroke(page, [60, 150], [100, 190]);
    await page.keyboard.press('Control+z');
    expect(await hook(page, (t) => t.labelCounts())).toEqual(counts);
    await h.screenshot('journal-not-saved');
    await page.getByTestId('not-saved-retry').click(); // still full: stays not saved
    await page.waitForTimeout(300);
    expect(await box.isVisible()).toBe(true);

    journalIo.write = realWrite; // space is back
    await page.getByTestId('not-saved-retry').click();
    await box.waitFor({ state: 'detached', timeout: 10_000 });
    expect(await hook(page, (t) => t.journalPending())).toBe(0);
    const records = onDisk();
    expect(records.map((r) => r.op.type)).toEqual(['edit', 'edit']);
    expect(await page.locator('[data-tool="brush"]').isDisabled()).toBe(false);
    expect(await page.locator('[data-tool="brush"]').getAttribute('class')).toMatch(/\bon\b/); // tool back
    await stroke(page, [60, 150], [100, 190]); // editing goes on
    await expect.poll(() => hook(page, (t) => t.journalPending())).toBe(0);
    expect(onDisk().length).toBe(3);
  });

  it('the periodic retry writes the pending records on its own once the disk has space', async () => {
    const { page } = app;
    journalIo.write = () => {
      throw Object.assign(new Error('EACCES: permission denied, write'), { code: 'EACCES' });
    };
    await page.getByTestId('undo').click();
    await page.getByTestId('not-saved').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('not-saved').textContent()).toMatch(/no permission/);
    journalIo.write = realWrite;
    await page.getByTestId('not-saved').waitFor({ state: 'detached', timeout: 15_000 }); // retries every 3 s
    expect(onDisk().map((r) => r.op.type)).toEqual(['edit', 'edit', 'edit', 'undo']);
  });

  it('a garbled journal tail: the case opens with a notice and every good record; later edits are readable', async () => {
    const { h, page } = app;
    const garbage = randomBytes(5000);
    appendFileSync(journalFile(), garbage);
    await openApp(page, h.url);
    const notice = page.getByTestId('journal-notice');
    await notice.waitFor({ timeout: 10_000 });
    expect(await notice.textContent()).toMatch(/last 5000 bytes .* unreadable .* set aside in .*\.corrupt-/);
    expect(await hook(page, (t) => t.restored()?.edits)).toBe(3);
    expect(readdirSync(journalDir).filter((f) => f.includes('.corrupt-')).length).toBe(1);
    await h.screenshot('journal-tail-set-aside');
    await hook(page, (t) => t.goToSlice('axial', 80));
    await page.locator('[data-tool="eraser"]').click();
    await stroke(page, [60, 60], [100, 80]);
    await expect.poll(() => hook(page, (t) => t.journalPending())).toBe(0);
    expect(onDisk().map((r) => r.op.type)).toEqual(['edit', 'edit', 'edit', 'undo', 'edit']);
    expect(h.pageErrors.filter((e) => !/not saved|journal could not/i.test(e))).toEqual([]);
  });
});

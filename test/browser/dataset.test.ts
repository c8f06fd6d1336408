import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVolume } from '../../core/src/node/load.ts';
import { fmtConfidence, LOW_CONFIDENCE } from '../../renderer/src/lib/dataset.ts';
import { PENDING } from '../../renderer/src/lib/label-values.ts';
import { linkDataset, modelWithThreshold } from '../helpers/dataset.ts';
import { type Harness, openApp, startHarness } from './harness.ts';
import { countPixels, decodePng, isGreen, type Region } from './viewer-png.ts';

/**
 * Dataset mode in the UI (renderer/src/components/DatasetPanel.svelte) against the real host,
 * engine and shipped model: a folder of two real BraTS subjects (symlinks) is opened as a
 * worklist, pre-labelled in the background on two slices, and reviewed lowest confidence first;
 * the pending proposal in the labelmap is compared with the proposal's mask.nii.gz and seen
 * green in a screenshot, and the statuses are read back from the project file on disk.
 * The host runs the shipped model with its manifest's low-confidence threshold set to 1, so that
 * every proposal whose members disagree anywhere is flagged and the low-confidence marker and
 * notice are seen on real proposals whatever the model (the threshold itself is tested in
 * test/integration/worklist.test.ts); what the UI shows is checked against each report.json.
 */
interface Hook {
  ready(): boolean;
  caseId(): string | undefined;
  slice(id: 'axial'): number;
  labelCounts(): Record<number, number>;
  rect(id: 'axial'): Region;
  goToSlice(id: 'axial', index: number): void;
  restored(): { proposalSlices: number } | undefined;
  journalPending(): number;
}
const hook = <T>(page: Page, fn: (h: Hook) => T): Promise<T> =>
  page.evaluate(`(${fn.toString()})(window.__quorumTest)`) as Promise<T>;

const root = mkdtempSync(join(tmpdir(), 'quorum-dataset-ui-'));
const ds = linkDataset(join(root, 'study'), false);
const projectFile = join(root, 'study.quorum', 'project.json');
const modelDir = modelWithThreshold(join(root, 'model'), 1);
/** 0-based axial slices pre-labelled (the panel's range is 1-based: 76-77). */
const SLICES = [75, 76];

interface Report {
  lesionVolumeMl: number;
  uncertaintyMm3: number;
  confidence: number;
  lowConfidence: boolean;
  confidenceLowBelow: number;
  settings: { members: number; steps: number; slices: number[] };
  slices: { k: number; uncertainty: number }[];
}
const report = (name: string): Report =>
  JSON.parse(readFileSync(join(root, 'study.quorum', 'proposals', name, 'report.json'), 'utf8'));
/** Lesion voxels of a case's pre-labelled mask.nii.gz. */
async function maskVoxels(name: string): Promise<number> {
  const m = await loadVolume(join(root, 'study.quorum', 'proposals', name, 'mask.nii.gz'));
  let n = 0;
  for (const v of m.data) n += v ? 1 : 0;
  return n;
}
/** The panel's mL format. */
const ml = (v: number) => v.toFixed(v < 10 ? 2 : 1);
const savedStatus = (): Record<string, string> =>
  Object.fromEntries(
    (JSON.parse(readFileSync(projectFile, 'utf8')).cases as { name: string; status: string }[]).map((c) => [
      c.name,
      c.status,
    ]),
  );

describe('dataset worklist panel', () => {
  let h: Harness;
  const row = (name: string) => h.page.locator(`[data-testid="dataset-row"][data-case="${name}"]`);
  const rowNames = () =>
    h.page
      .locator('[data-testid="dataset-row"]')
      .evaluateAll((rs) => rs.map((r) => r.getAttribute('data-case')));
  /** Clicks a case (or a button that opens one) and waits for that case to be open with its labelmap. */
  async function openedBy(click: () => Promise<void>, pendingVoxels: number) {
    const before = await hook(h.page, (t) => t.caseId());
    await click();
    await h.page.waitForFunction(
      ([id, n, pending]) => {
        const t = (window as unknown as { __quorumTest: Hook }).__quorumTest;
        return (
          t.ready() && t.caseId() !== id && (t.labelCounts()[pending] ?? 0) === n && t.journalPending() === 0
        );
      },
      [before, pendingVoxels, PENDING] as const,
      { timeout: 60_000 },
    );
  }
  let order: string[] = [];
  /** The viewer's low-confidence notice is shown exactly when the open case's report says so. */
  async function expectNotice(name: string) {
    const notice = h.page.getByTestId('low-confidence-notice');
    const r = report(name);
    if (r.lowConfidence) {
      await notice.waitFor({ timeout: 10_000 });
      const text = await notice.textContent();
      expect(text?.toLowerCase()).toContain(LOW_CONFIDENCE);
      expect(text).toContain(fmtConfidence(r.confidence));
    } else {
      await expect.poll(() => notice.count()).toBe(0);
    }
  }

  beforeAll(async () => {
    h = await startHarness({ modelDir });
    await openApp(h.page, h.url);
  });
  afterAll(async () => {
    await h?.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  it('opens a folder as a worklist and pre-labels it with the panel settings, pausable, with per-case progress', async () => {
    const page = h.page;
    await page.getByTestId('dataset-path').fill(ds);
    await page.getByTestId('dataset-open').click();
    await expect.poll(rowNames).toEqual(['pat3', 'pat4']);
    expect(await row('pat3').getAttribute('data-status')).toBe('new');
    expect(existsSync(projectFile)).toBe(true);
    expect(readdirSync(ds).sort()).toEqual(['pat3', 'pat4']); // nothing written inside the dataset
    await expect.poll(() => page.getByTestId('dataset-queue').textContent()).toBe('2 to pre-label');

    // Every progress text the table shows, as it shows it.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { __progress: string[] }).__progress = seen;
      new MutationObserver(() => {
        for (const e of document.querySelectorAll('[data-testid="case-progress"]'))
          seen.push(`${e.closest('tr')?.getAttribute('data-case')}: ${e.textContent}`);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await page.getByTestId('dataset-members').fill('2');
    await page.getByTestId('dataset-steps').fill('2');
    await page.getByTestId('dataset-from').fill(String(SLICES[0] + 1));
    await page.getByTestId('dataset-to').fill(String(SLICES[1] + 1));
    const t0 = Date.now();
    await page.getByTestId('dataset-prelabel').click();
    // Pause as soon as a case is under way, then resume: the case in flight is redone.
    await page.getByTestId('case-progress').first().waitFor({ timeout: 120_000 });
    await page.getByTestId('dataset-pause').click();
    await page.getByTestId('dataset-prelabel').filter({ hasText: 'Resume' }).waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('dataset-queue').textContent()).toMatch(/^paused · [12] to pre-label$/);
    expect(savedStatus()).not.toEqual({ pat3: 'proposed', pat4: 'proposed' });
    await page.getByTestId('dataset-prelabel').click();
    await expect
      .poll(
        async () => [
          await row('pat3').getAttribute('data-status'),
          await row('pat4').getAttribute('data-status'),
        ],
        {
          timeout: 150_000,
          interval: 500,
        },
      )
      .toEqual(['proposed', 'proposed']);
    console.log(
      `pre-labelled 2 cases (2 slices, 2 members x 2 steps, one pause) in ${(Date.now() - t0) / 1000} s`,
    );
    const progress = await page.evaluate(() => (window as unknown as { __progress: string[] }).__progress);
    expect(progress.some((p) => /^pat[34]: [01]\/2 · (\d+ min )?\d+ s$/.test(p))).toBe(true);
    expect(await page.getByTestId('case-progress').count()).toBe(0);
    await expect.poll(() => page.getByTestId('dataset-queue').textContent()).toBe('0 to pre-label');

    // What the table shows is what the proposals on disk say, with the panel's settings.
    for (const name of ['pat3', 'pat4']) {
      const r = report(name);
      expect(r.settings).toMatchObject({ members: 2, steps: 2, slices: SLICES });
      expect(r.lesionVolumeMl).toBeGreaterThan(0.5);
      expect(await row(name).getByTestId('case-lesion').textContent()).toBe(ml(r.lesionVolumeMl));
      expect(await row(name).getByTestId('case-uncertainty').textContent()).toBe(ml(r.uncertaintyMm3 / 1000));
      expect(await row(name).getByTestId('case-error').count()).toBe(0);
      // The confidence column and, for a low-confidence proposal, the marker under its row.
      expect(r.confidence).toBeGreaterThan(0);
      expect(r.confidence).toBeLessThanOrEqual(1);
      expect(r.confidenceLowBelow).toBe(1);
      expect(r.lowConfidence).toBe(r.confidence < 1);
      expect(await row(name).getByTestId('case-confidence').textContent()).toBe(fmtConfidence(r.confidence));
      expect(await row(name).getByTestId('case-confidence').textContent()).toMatch(/^[01]\.\d\d$/);
      const marker = page.locator(`[data-testid="case-low-confidence"][data-case="${name}"]`);
      expect(await marker.count()).toBe(r.lowConfidence ? 1 : 0);
      if (r.lowConfidence) expect(await marker.textContent()).toContain(LOW_CONFIDENCE);
    }
    // Two real tumour proposals never agree to the last pixel: the low-confidence path is seen.
    expect(['pat3', 'pat4'].some((n) => report(n).lowConfidence)).toBe(true);
    // Default order: lowest confidence first (ties: most uncertain); by uncertainty or name on request, and back.
    order = ['pat3', 'pat4'].sort(
      (a, b) =>
        report(a).confidence - report(b).confidence || report(b).uncertaintyMm3 - report(a).uncertaintyMm3,
    );
    expect(await rowNames()).toEqual(order);
    await page.getByTestId('sort-name').click();
    expect(await rowNames()).toEqual(['pat3', 'pat4']);
    await page.getByTestId('sort-uncertainty').click();
    expect(await rowNames()).toEqual(
      ['pat3', 'pat4'].sort((a, b) => report(b).uncertaintyMm3 - report(a).uncertaintyMm3),
    );
    await page.getByTestId('sort-confidence').click();
    expect(await rowNames()).toEqual(order);
    expect(savedStatus()).toEqual({ pat3: 'proposed', pat4: 'proposed' });
  });

  it('opens the least confident case with its proposal pending (green) and, when low-confidence, the notice over the viewer; then Done → next opens the other', async () => {
    const page = h.page;
    const [first, second] = order;
    const firstVoxels = await maskVoxels(first);
    expect(firstVoxels).toBeGreaterThan(500);
    await openedBy(() => row(first).getByRole('button').click(), firstVoxels);
    // Every pending voxel is the proposal's, and nothing else is in the labelmap.
    expect(await hook(page, (t) => t.labelCounts())).toEqual({
      0: 240 * 240 * 155 - firstVoxels,
      1: 0,
      [PENDING]: firstVoxels,
    });
    await expect.poll(() => row(first).getAttribute('data-status')).toBe('in-review');
    expect(savedStatus()[first]).toBe('in-review');
    await expectNotice(first);
    // The viewer starts on the most uncertain proposed slice.
    const scores = report(first).slices;
    const top = scores.reduce((a, b) => (b.uncertainty > a.uncertainty ? b : a)).k;
    expect(await hook(page, (t) => t.slice('axial'))).toBe(top);

    await page.evaluate(`window.__quorumTest.goToSlice('axial', ${SLICES[0]})`);
    await page.getByTestId('toggle-uncertainty').uncheck();
    await page.waitForTimeout(400);
    const rect = await hook(page, (t) => t.rect('axial'));
    const img = decodePng(await h.screenshot('dataset-1-proposal'));
    const green = countPixels(img, rect, isGreen);
    console.log(`${first}: ${firstVoxels} pending voxels, ${green} green pixels on slice ${SLICES[0] + 1}`);
    expect(green).toBeGreaterThan(100);
    await page.getByTestId('toggle-uncertainty').check();

    // The review clock runs while the case is in review.
    await page.waitForTimeout(1100);
    await expect.poll(() => row(first).getByTestId('case-time').textContent()).not.toBe('0:00');

    const secondVoxels = await maskVoxels(second);
    await openedBy(() => page.getByTestId('dataset-done-next').click(), secondVoxels);
    await expect.poll(() => row(second).getAttribute('data-status')).toBe('in-review');
    await expectNotice(second);
    expect(await row(first).getAttribute('data-status')).toBe('done');
    expect(await row(second).evaluate((r) => r.classList.contains('current'))).toBe(true);
    const saved = JSON.parse(readFileSync(projectFile, 'utf8')) as {
      cases: { name: string; status: string; secondsSpent: number }[];
    };
    expect(Object.fromEntries(saved.cases.map((c) => [c.name, c.status]))).toEqual({
      [first]: 'done',
      [second]: 'in-review',
    });
    expect(saved.cases.find((c) => c.name === first)!.secondsSpent).toBeGreaterThan(1);
    await h.screenshot('dataset-2-next-case');
  });

  it('reopening a reviewed case restores it from its journal without adding the proposal again', async () => {
    const page = h.page;
    const [first] = order;
    const voxels = await maskVoxels(first);
    for (let i = 0; i < 2; i++) {
      await openedBy(() => row(first).getByRole('button').click(), voxels);
      // Two proposal slices in the journal, from the first opening only (a second load would make four).
      expect(await hook(page, (t) => t.restored()?.proposalSlices)).toBe(SLICES.length);
      await page.getByTestId('restored-notice').waitFor();
      // Restored from the journal, the proposal is still the low-confidence one.
      await expectNotice(first);
    }
    expect(savedStatus()[first]).toBe('in-review');
    expect(h.pageErrors).toEqual([]);
    expect(h.externalRequests).toEqual([]);
  });
});

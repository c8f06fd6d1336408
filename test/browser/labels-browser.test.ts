import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadVolume, writeNiftiFile } from '../../core/src/node/load.ts';
import { JournalFile } from '../../workers/src/host/journal-store.ts';
import { appForTests, openFromDialog, quorumHook, waitForOtherCase } from '../helpers/browser-app.ts';
import { PAT3 } from '../helpers/paths.ts';
import { DATA, openApp } from './harness.ts';

/**
 * Labels in, in the real app (in-process host, WebSocket, Chromium): a case opened from the Open
 * dialog with "Labels (optional)" starts with the label's voxels as its labelmap (accepted, not
 * pending, no undo step), journalled, so a reopen without the label file shows them again.
 */
interface Hook {
  ready(): boolean;
  caseId(): string | undefined;
  nonZero(): number[];
  canUndo(): boolean;
  journalPending(): number;
  restored(): { labelsIn?: number } | undefined;
  segments(): { value: number; name: string }[];
}
const hook = quorumHook<Hook>();

const TCGA = join(DATA, 'tcga-lgg', 'TCGA_CS_4941_19960909');

describe('labels in: the Open dialog with a label file (browser)', () => {
  const app = appForTests('quorum-labels-browser', { initialCase: TCGA, open: false });
  const { state } = app;
  let expected: number[];

  beforeAll(async () => {
    const seg = (await loadVolume(join(TCGA, 'seg.nii.gz'))).data;
    expected = [];
    for (let i = 0; i < seg.length; i++) if (seg[i]) expected.push(i);
  });

  it('opens the case with its expert mask as the starting labelmap, journalled for the next open', async () => {
    const { h, page } = app;
    await openApp(page, h.url);
    expect(await hook(page, (t) => t.nonZero().length)).toBe(0);
    const before = await hook(page, (t) => t.caseId());

    await openFromDialog(page, TCGA, { labels: join(TCGA, 'seg.nii.gz') });
    await waitForOtherCase(page, before);
    const nz = await hook(page, (t) => t.nonZero());
    const idx = nz.filter((_, n) => n % 2 === 0);
    const values = new Set(nz.filter((_, n) => n % 2 === 1));
    expect(idx.length).toBe(expected.length);
    expect(idx).toEqual(expected);
    expect([...values]).toEqual([1]); // accepted lesion, not pending (2)
    expect(await hook(page, (t) => t.canUndo())).toBe(false); // the base state, not an undo step
    expect(await page.getByTestId('notice').textContent()).toMatch(
      new RegExp(
        `Started from seg\\.nii\\.gz: ${expected.length} labelled voxels \\(1 segment; on the case grid as read\\)`,
      ),
    );
    await h.screenshot('labels-in-opened');

    // One labels-in record in the case's journal...
    await expect.poll(() => hook(page, (t) => t.journalPending())).toBe(0);
    const dir = join(state, 'journal');
    const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.qjournal'))!);
    const records = new JournalFile(file).read().records;
    expect(records.map((r) => [r.op.type, r.op.voxels])).toEqual([['labels-in', expected.length]]);

    // ...so the case opened again without the label file (a reload opens the initial case) shows them.
    await openApp(page, h.url);
    const again = await hook(page, (t) => t.nonZero());
    expect(again.filter((_, n) => n % 2 === 0)).toEqual(expected);
    expect(await hook(page, (t) => t.restored()?.labelsIn)).toBe(1);

    // Start over goes back to the labels read in, not to an empty labelmap.
    await page.getByTestId('restored-discard').click();
    await page.getByTestId('restored-discard').waitFor({ state: 'detached', timeout: 10_000 });
    await expect.poll(() => hook(page, (t) => t.journalPending())).toBe(0);
    expect((await hook(page, (t) => t.nonZero())).filter((_, n) => n % 2 === 0)).toEqual(expected);
    expect(new JournalFile(file).read().records.map((r) => r.op.type)).toEqual([
      'labels-in',
      'reset',
      'labels-in',
    ]);
  });

  it('a case with saved work keeps it: another label file is not loaded, and the user is told', async () => {
    const { page } = app;
    const seg = await loadVolume(join(TCGA, 'seg.nii.gz'));
    const other = join(state, 'other-label.nii.gz');
    const block = new Uint8Array(seg.data.length).fill(1, 0, 1000);
    writeNiftiFile(other, { ...seg, data: block });
    const before = await hook(page, (t) => t.caseId());
    await openFromDialog(page, TCGA, { labels: other });
    await waitForOtherCase(page, before);
    expect((await hook(page, (t) => t.nonZero())).filter((_, n) => n % 2 === 0)).toEqual(expected);
    expect(await page.getByTestId('notice').textContent()).toMatch(
      /already has saved work \(its journal\), which was restored; other-label\.nii\.gz was not loaded/,
    );
  });

  it('a multi-label file (BraTS sub-regions) opens as one segment per value, replayed on reopen', async () => {
    const { page } = app;
    const file = join(PAT3, 'OTMultiClass.nii.gz');
    const label = (await loadVolume(file)).data;
    const want: number[] = [];
    for (let i = 0; i < label.length; i++) if (label[i]) want.push(i, label[i]);
    const values = [...new Set(want.filter((_, n) => n % 2 === 1))].sort((a, b) => a - b);
    expect(values.length).toBeGreaterThan(1);
    const before = await hook(page, (t) => t.caseId());
    await openFromDialog(page, PAT3, { labels: file });
    await waitForOtherCase(page, before);
    expect(await hook(page, (t) => t.nonZero())).toEqual(want);
    expect(await hook(page, (t) => t.segments().map((s) => s.value))).toEqual(values);
    // reopened without the file: the labels-in record brings the values and the segment table back
    await openFromDialog(page, PAT3, { labels: '' });
    await expect.poll(() => hook(page, (t) => t.restored()?.labelsIn), { timeout: 60_000 }).toBe(1);
    expect(await hook(page, (t) => t.nonZero())).toEqual(want);
    expect(await hook(page, (t) => t.segments().map((s) => s.value))).toEqual(values);
  });

  it('dataset mode: the worklist says which cases have a label (labels/ folder or _seg file)', async () => {
    const { h, page } = app;
    const ds = join(state, 'dataset');
    mkdirSync(join(ds, 'labels'), { recursive: true });
    for (const name of ['a', 'b', 'c']) {
      mkdirSync(join(ds, name));
      for (const f of ['flair.nii.gz', 't1c.nii.gz']) symlinkSync(join(TCGA, f), join(ds, name, f));
    }
    symlinkSync(join(TCGA, 'seg.nii.gz'), join(ds, 'labels', 'a.nii.gz'));
    symlinkSync(join(TCGA, 'seg.nii.gz'), join(ds, 'b', 'b_seg.nii.gz'));
    await page.getByTestId('dataset-path').fill(ds);
    await page.getByTestId('dataset-open').click();
    const cell = (name: string) =>
      page.locator(`[data-testid="dataset-row"][data-case="${name}"] [data-testid="case-label"]`);
    await cell('a').waitFor({ timeout: 30_000 });
    expect(await cell('a').textContent()).toBe('✓');
    expect(await cell('a').getAttribute('title')).toBe(`has label: ${join(ds, 'labels', 'a.nii.gz')}`);
    expect(await cell('b').getAttribute('title')).toBe(`has label: ${join(ds, 'b', 'b_seg.nii.gz')}`);
    expect(await cell('c').textContent()).toBe('');
    expect(await cell('c').getAttribute('title')).toBe('no existing label');
    expect(await page.locator('[data-testid="dataset-row"][data-case="labels"]').count()).toBe(0);
    await h.screenshot('labels-in-dataset');
  });
});

import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../../workers/src/host/service.ts';
import { dicomFiles, ORTHANC_MISSING, type Orthanc, startOrthanc } from '../helpers/orthanc.ts';
import { DATA, type Harness, openApp, startHarness } from './harness.ts';

/**
 * The PACS panel (renderer/src/components/PacsPanel.svelte) in Chromium against the real host and
 * a real Orthanc holding the GE MR series of dcm_qa_nih: a node is added through the form, echoed,
 * the study is found by patient name and modality, retrieved with per-image progress, and opened
 * as the case in the viewer.
 */
interface Hook {
  ready(): boolean;
  caseId(): string | undefined;
  dims(): [number, number, number];
}
const hook = <T>(page: Page, fn: (h: Hook) => T): Promise<T> =>
  page.evaluate(`(${fn.toString()})(window.__quorumTest)`) as Promise<T>;

describe.skipIf(ORTHANC_MISSING)('PACS panel against a real Orthanc', () => {
  let pacs: Orthanc;
  let h: Harness;
  const state = scratchDir('quorum-pacs-ui');

  beforeAll(async () => {
    pacs = await startOrthanc({ knownAets: [{ aet: 'QUORUM', port: 104 }] });
    await pacs.upload(dicomFiles(join(DATA, 'dicom', 'dcm_qa_nih', 'In', '20180918GE')));
    h = await startHarness({ stateDir: state });
    await openApp(h.page, h.url);
  });
  afterAll(async () => {
    await h?.cleanup();
    await pacs?.stop();
    if (pacs) rmSync(pacs.dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  it('adds a node, finds the study, retrieves it with progress and opens it as the case', async () => {
    const { page } = h;
    const sampleCase = await hook(page, (q) => q.caseId());
    await page.getByTestId('open-pacs').click();
    await page.getByTestId('pacs-add-name').fill('hospital');
    await page.getByTestId('pacs-add-aet').fill(pacs.aet);
    await page.getByTestId('pacs-add-host').fill('127.0.0.1');
    await page.getByTestId('pacs-add-port').fill(String(pacs.dicomPort));
    await page.getByTestId('pacs-add-save').click();
    await expect.poll(() => page.getByTestId('pacs-node').inputValue()).toBe('hospital');
    await page.getByTestId('pacs-echo').click();
    await page.getByTestId('pacs-status').getByText('hospital answered C-ECHO').waitFor();

    await page.getByTestId('pacs-q-name').fill('Test*');
    await page.getByTestId('pacs-q-modality').fill('MR');
    await page.getByTestId('pacs-search').click();
    const row = page.getByTestId('pacs-results').locator('tbody tr');
    await row.first().getByText('Test^Regression').waitFor();
    expect(await row.count()).toBe(1);
    expect(await row.first().innerText()).toMatch(/DEV\s+20180918\s+MR\s+150/);

    await row.first().getByTestId('pacs-retrieve').click();
    // Per-image progress shows while the 150 images arrive.
    await page
      .getByTestId('pacs-progress')
      .getByText(/\d+\/150 image\(s\)/)
      .waitFor();
    await page.getByTestId('pacs-open').waitFor({ timeout: 120_000 });
    await page.getByTestId('pacs-status').getByText('retrieved 150 image(s)').waitFor();
    const studies = readdirSync(join(state, 'pacs-cache'));
    expect(studies).toHaveLength(1);
    expect(readdirSync(join(state, 'pacs-cache', studies[0]))).toHaveLength(150);

    // This fMRI series is no sequence the model reads: the panel says so and offers to open it anyway.
    await page.getByTestId('pacs-open').click();
    await page
      .getByTestId('pacs-open-problem')
      .getByText(/no MRI sequence found/)
      .waitFor();
    await page.getByTestId('pacs-open-flair').click();
    await page.getByTestId('pacs-panel').waitFor({ state: 'detached' });
    await page.waitForFunction(
      (before) => {
        const q = (window as unknown as { __quorumTest: Hook }).__quorumTest;
        return q.ready() && q.caseId() !== before;
      },
      sampleCase,
      { timeout: 60_000 },
    );
    expect(await hook(page, (q) => q.dims())).toEqual([64, 64, 15]);
    // The case is the retrieved copy, and the SEG can go back to the PACS from it.
    await page.getByTestId('open-pacs').click();
    expect(await page.getByTestId('pacs-send-seg').isEnabled()).toBe(true);
    expect(h.externalRequests).toEqual([]);
  });
});

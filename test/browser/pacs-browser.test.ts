import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVolume } from '../../core/src/node/load.ts';
import { scratchDir } from '../../workers/src/host/service.ts';
import { dicomFiles, ORTHANC_MISSING, type Orthanc, startOrthanc } from '../helpers/orthanc.ts';
import { maskDiff, segVoxels } from '../helpers/seg-read.ts';
import { DATA, type Harness, openApp, startHarness } from './harness.ts';

/**
 * The PACS panel (renderer/src/components/PacsPanel.svelte) in Chromium against the real host and
 * a real Orthanc holding the GE MR series of dcm_qa_nih: a node is added through the form, echoed,
 * the study is found by patient name and modality, retrieved with per-image progress, and opened
 * as the case in the viewer; a brush stroke on it is sent back with "Send SEG to PACS" and read
 * back from Orthanc's REST API voxel for voxel.
 */
interface Hook {
  ready(): boolean;
  caseId(): string | undefined;
  dims(): [number, number, number];
  slice(id: 'axial'): number;
  voxelToPage(id: 'axial', ijk: [number, number, number]): [number, number];
  nonZero(): number[];
}
const hook = <T>(page: Page, fn: (h: Hook) => T): Promise<T> =>
  page.evaluate(`(${fn.toString()})(window.__quorumTest)`) as Promise<T>;

const GE = join(DATA, 'dicom', 'dcm_qa_nih', 'In', '20180918GE');

describe.skipIf(ORTHANC_MISSING)('PACS panel against a real Orthanc', () => {
  let pacs: Orthanc;
  let h: Harness;
  const state = scratchDir('quorum-pacs-ui');

  beforeAll(async () => {
    pacs = await startOrthanc({ knownAets: [{ aet: 'QUORUM', port: 104 }] });
    await pacs.upload(dicomFiles(GE));
    h = await startHarness({ stateDir: state });
    await openApp(h.page, h.url);
  });
  afterAll(async () => {
    await h?.cleanup();
    await pacs?.stop();
    if (pacs) rmSync(pacs.dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  it('adds a node, finds the study, retrieves it with progress, opens it, and sends a painted SEG back', async () => {
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
    expect((await row.first().locator('td').allTextContents()).slice(0, 6)).toEqual([
      'Test^Regression',
      'DEV',
      '20180918',
      'MR',
      '',
      '150',
    ]);

    await row.first().getByTestId('pacs-retrieve').click();
    // Per-image progress shows while the 150 images arrive.
    await page
      .getByTestId('pacs-progress')
      .getByText(/\d+\/150 image\(s\)/)
      .waitFor();
    await page.getByTestId('pacs-open').waitFor({ timeout: 120_000 });
    await page.getByTestId('pacs-status').getByText('retrieved 150 image(s)').waitFor();
    await h.screenshot('pacs-panel-retrieved');
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
    // A brush stroke on the retrieved case goes back to the PACS as DICOM SEG.
    const k = await hook(page, (q) => q.slice('axial'));
    const from = (await page.evaluate(`window.__quorumTest.voxelToPage('axial', [16, 30, ${k}])`)) as [
      number,
      number,
    ];
    const to = (await page.evaluate(`window.__quorumTest.voxelToPage('axial', [40, 30, ${k}])`)) as [
      number,
      number,
    ];
    await page.locator('[data-tool="brush"]').click();
    await page.mouse.move(from[0], from[1]);
    await page.mouse.down();
    for (let s = 1; s <= 10; s++)
      await page.mouse.move(from[0] + ((to[0] - from[0]) * s) / 10, from[1] + ((to[1] - from[1]) * s) / 10);
    await page.mouse.up();
    await page.waitForTimeout(500);
    const painted = await hook(page, (q) => q.nonZero());
    expect(painted.length / 2).toBeGreaterThan(20);
    await page.getByTestId('open-pacs').click();
    await page.getByTestId('pacs-send-seg').click();
    await page
      .getByTestId('pacs-status')
      .getByText('DICOM SEG stored on hospital')
      .waitFor({ timeout: 60_000 });
    const [studyId] = await pacs.get<string[]>('/studies');
    const series = await pacs.get<{ MainDicomTags: { Modality: string }; Instances: string[] }[]>(
      `/studies/${studyId}/series`,
    );
    const seg = series.find((x) => x.MainDicomTags.Modality === 'SEG');
    expect(seg?.Instances).toHaveLength(1);
    const ref = await loadVolume(join(GE, 'mr_0004'));
    const back = segVoxels(await pacs.getBytes(`/instances/${seg!.Instances[0]}/file`), ref);
    const expected = new Uint8Array(back.mask.length);
    for (let i = 0; i < painted.length; i += 2) expected[painted[i]] = painted[i + 1] ? 1 : 0;
    expect(maskDiff(back.mask, expected)).toBe(0);
    expect(h.externalRequests).toEqual([]);
  });
});

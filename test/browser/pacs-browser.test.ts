import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVolume } from '../../core/src/node/load.ts';
import { appForTests, drag, quorumHook, voxelToPage, waitForOtherCase } from '../helpers/browser-app.ts';
import { writeDicomSeries } from '../helpers/dicom-series.ts';
import { dicomFiles, ORTHANC_MISSING, type Orthanc, startOrthanc } from '../helpers/orthanc.ts';
import { maskDiff, segVoxels } from '../helpers/seg-read.ts';
import { DATA } from './harness.ts';

/**
 * The PACS panel (renderer/src/components/PacsPanel.svelte) in Chromium against the real host and
 * a real Orthanc holding the GE MR series of dcm_qa_nih: a node is added through the form, echoed,
 * the study is found by patient name and modality, retrieved with per-image progress, and opened
 * as the case in the viewer; a brush stroke on it is sent back with "Send SEG to PACS" and read
 * back from Orthanc's REST API voxel for voxel. Closing the panel during a retrieve asks first, and
 * a confirmed close cancels the retrieve: nothing of it is kept in the study cache.
 */
interface Hook {
  ready(): boolean;
  caseId(): string | undefined;
  dims(): [number, number, number];
  slice(id: 'axial'): number;
  nonZero(): number[];
}
const hook = quorumHook<Hook>();

const GE = join(DATA, 'dicom', 'dcm_qa_nih', 'In', '20180918GE');
const PAT222 = join(DATA, 'brats-4seq', 'brats2015-tcia-pat222');

describe.skipIf(ORTHANC_MISSING)('PACS panel against a real Orthanc', () => {
  let pacs: Orthanc;
  const app = appForTests('quorum-pacs-ui');
  const { state } = app;

  beforeAll(async () => {
    pacs = await startOrthanc({ knownAets: [{ aet: 'QUORUM', port: 104 }] });
    await pacs.upload(dicomFiles(GE));
  });
  afterAll(async () => {
    await pacs?.stop();
    if (pacs) rmSync(pacs.dir, { recursive: true, force: true });
  });

  it('adds a node, finds the study, retrieves it with progress, opens it, and sends a painted SEG back', async () => {
    const { h, page } = app;
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
    await waitForOtherCase(page, sampleCase);
    expect(await hook(page, (q) => q.dims())).toEqual([64, 64, 15]);
    // A brush stroke on the retrieved case goes back to the PACS as DICOM SEG.
    const k = await hook(page, (q) => q.slice('axial'));
    await page.locator('[data-tool="brush"]').click();
    await drag(page, await voxelToPage(page, [16, 30, k]), await voxelToPage(page, [40, 30, k]), 10, 500);
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

  it('closing the panel during a retrieve asks; a confirmed close cancels it and keeps nothing of it', async () => {
    const { h, page } = app;
    const panel = page.getByTestId('pacs-panel');
    // The test above leaves the panel open with nothing running: Close closes it at once.
    await panel.getByTestId('dialog-close').click();
    await panel.waitFor({ state: 'detached' });
    // A study of its own (155 BraTS FLAIR slices, 240x240) that takes seconds to arrive, so the
    // panel is closed while it is still coming; the node saved by the test above is used.
    const series = writeDicomSeries(
      join(state, 'cancel-study'),
      join(GE, 'mr_0004', 'axial_epi_fmri_interleaved_i_to_s-00001.dcm'),
      await loadVolume(join(PAT222, 'Flair.nii.gz')),
      {
        seriesDescription: 'Ax FLAIR',
        seriesNumber: 3,
        acquisition: { PatientName: 'Cancel^Close', PatientID: 'CLOSE1' },
      },
    );
    await pacs.upload(series);
    const cache = join(state, 'pacs-cache');
    const before = readdirSync(cache);

    await page.getByTestId('open-pacs').click();
    await page.getByTestId('pacs-q-name').fill('Cancel*');
    await page.getByTestId('pacs-search').click();
    const row = page.getByTestId('pacs-results').locator('tbody tr');
    await row.first().getByText('Cancel^Close').waitFor();
    const uid = (await row.first().getAttribute('data-study'))!;
    await row.first().getByTestId('pacs-retrieve').click();
    const progress = page.getByTestId('pacs-progress');
    await progress.getByText(/[1-9]\d*\/155 image\(s\)/).waitFor();
    // Orthanc stops answering until the close is confirmed, so the retrieve is still under way
    // whatever the machine's load (on a busy CI machine it once finished before the click).
    pacs.pause();

    // Escape asks, as Close does; "Keep transferring" leaves the panel and the retrieve running.
    await page.keyboard.press('Escape');
    const ask = page.getByTestId('pacs-close-confirm');
    await ask.waitFor();
    expect(await ask.textContent()).toMatch(
      /Retrieving Cancel\^Close is under way \(\d+\/155 image\(s\)\)\.\s+Closing cancels\s+it: the images retrieved so far are not kept/,
    );
    await page.getByTestId('pacs-close-keep').click();
    await ask.waitFor({ state: 'detached' });
    expect(await progress.count()).toBe(1);

    await panel.getByTestId('dialog-close').click();
    await ask.waitFor();
    await h.screenshot('pacs-close-during-retrieve');
    const shown = Number((await progress.textContent())!.match(/(\d+)\/155/)![1]);
    expect(shown).toBeLessThan(155);
    await page.getByTestId('pacs-close-cancel-transfer').click();
    // The panel closes once the host has ended the retrieve (cancelled, not done: no study folder),
    // without waiting for the frozen PACS to answer.
    await panel.waitFor({ state: 'detached', timeout: 30_000 });
    pacs.resume();
    expect(readdirSync(cache).sort()).toEqual(before.sort());
    expect(existsSync(join(cache, uid))).toBe(false);
    expect(existsSync(join(cache, `${uid}.partial`))).toBe(false);
    expect(await page.getByTestId('pacs-error').count()).toBe(0);
    expect(await page.locator('aside .error-box').count()).toBe(0);

    // The host has let go of it: retrieving the study again runs (not "being retrieved already")
    // and completes, without an error from the cancelled one.
    await page.getByTestId('open-pacs').click();
    await page.getByTestId('pacs-q-name').fill('Cancel*');
    await page.getByTestId('pacs-search').click();
    await row.first().getByTestId('pacs-retrieve').click();
    await page.getByTestId('pacs-open').waitFor({ timeout: 120_000 });
    await page.getByTestId('pacs-status').getByText('retrieved 155 image(s)').waitFor();
    expect(await page.getByTestId('pacs-error').count()).toBe(0);
    expect(readdirSync(join(cache, uid))).toHaveLength(155);
  });
});

import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseInfo, PacsEvent } from '../../core/src/api.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { QuorumService, scratchDir } from '../../workers/src/host/service.ts';
import { quorumWith } from '../helpers/cli.ts';
import {
  DICOMWEB_PLUGIN,
  dicomFiles,
  freePort,
  ORTHANC_MISSING,
  type Orthanc,
  startOrthanc,
} from '../helpers/orthanc.ts';
import { DATA } from '../helpers/paths.ts';
import { blobMask, maskDiff, segVoxels } from '../helpers/seg-read.ts';

/**
 * The same flow over DICOMweb (QIDO-RS, WADO-RS, STOW-RS) against Orthanc's DICOMweb plugin:
 * a node configured with only a base URL finds the GE study, retrieves it image by image into
 * the cache (voxels equal to the original files), and stores the case's SEG, which Orthanc then
 * holds with the same voxels. A wrong URL and a stopped server are named in the messages.
 */
const GE = join(DATA, 'dicom', 'dcm_qa_nih', 'In', '20180918GE');
const MISSING =
  ORTHANC_MISSING ??
  (existsSync(DICOMWEB_PLUGIN)
    ? undefined
    : `${DICOMWEB_PLUGIN} is not installed (apt-get install orthanc-dicomweb)`);

function collect() {
  const events: PacsEvent[] = [];
  let finish!: (e: PacsEvent) => void;
  const end = new Promise<PacsEvent>((ok) => {
    finish = ok;
  });
  const on = (e: PacsEvent) => {
    events.push(e);
    if (e.type !== 'progress') finish(e);
  };
  return { events, on, end };
}

describe.skipIf(MISSING)(
  `PACS over DICOMweb against a real Orthanc${MISSING ? ` (skipped: ${MISSING})` : ''}`,
  () => {
    let pacs: Orthanc;
    let svc: QuorumService;
    let study: string;
    let info: CaseInfo;
    const state = scratchDir('quorum-dicomweb-state');

    beforeAll(async () => {
      pacs = await startOrthanc();
      await pacs.upload(dicomFiles(GE));
      svc = new QuorumService({ mode: 'browser', stateDir: state, pacsTimeoutMs: 5000 });
      await svc.pacsSaveNode({ name: 'web', dicomweb: `${pacs.dicomweb}/` });
    });
    afterAll(async () => {
      await svc?.close();
      await pacs?.stop();
      rmSync(state, { recursive: true, force: true });
      if (pacs) rmSync(pacs.dir, { recursive: true, force: true });
    });

    it('keeps the base URL (no trailing slash), answers the echo and finds the study with QIDO-RS', async () => {
      expect((await svc.pacsConfig()).nodes).toEqual([{ name: 'web', dicomweb: pacs.dicomweb }]);
      expect((await svc.pacsEcho('web')).ms).toBeGreaterThan(0);
      const found = await svc.pacsFind('web', {
        patientName: 'Test*',
        modality: 'MR',
        studyDate: '20180918',
      });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        patientName: 'Test^Regression',
        patientId: 'DEV',
        modalities: ['MR'],
        instances: 150,
      });
      study = found[0].studyInstanceUid;
      expect(await svc.pacsFind('web', { patientId: 'NOBODY' })).toEqual([]);
    });

    it('retrieves the study with WADO-RS, one progress event per image, with the original voxels', async () => {
      const c = collect();
      await svc.pacsRetrieve('web', study, c.on);
      const end = await c.end;
      expect(end).toMatchObject({ type: 'done', done: 150, failed: 0 });
      const progress = c.events.filter((e) => e.type === 'progress');
      expect(progress).toHaveLength(150);
      expect(progress.at(-1)).toMatchObject({ done: 150, total: 150 });
      const folder = (end as { folder: string }).folder;
      expect(readdirSync(folder)).toHaveLength(150);
      info = await svc.openCase({ flair: folder });
      const got = await svc.getVolume(info.id, 'flair');
      const original = await loadVolume(join(GE, 'mr_0004'));
      let diff = 0;
      for (let i = 0; i < original.data.length; i++) if (got.data[i] !== original.data[i]) diff++;
      expect(diff).toBe(0);
    });

    it('stores the SEG with STOW-RS; Orthanc holds it in the study with the same voxels', async () => {
      const mask = blobMask(info.geometry.dims, [1, 8, 13]);
      const c = collect();
      await svc.pacsStore({ node: 'web', caseId: info.id, mask }, c.on);
      expect(await c.end).toMatchObject({ type: 'done', done: 1 });
      const [studyId] = await pacs.get<string[]>('/studies');
      const series = await pacs.get<{ MainDicomTags: { Modality: string }; Instances: string[] }[]>(
        `/studies/${studyId}/series`,
      );
      const seg = series.find((s) => s.MainDicomTags.Modality === 'SEG')!;
      const back = segVoxels(await pacs.getBytes(`/instances/${seg.Instances[0]}/file`), info.geometry);
      expect(back.study).toBe(study);
      expect(maskDiff(back.mask, mask)).toBe(0);
    });

    it('names the node for a wrong URL (HTTP 404) and a stopped server, from the API and the CLI', async () => {
      await svc.pacsSaveNode({ name: 'wrong-path', dicomweb: `${pacs.rest}/no-such-dicomweb` });
      await expect(svc.pacsFind('wrong-path', {})).rejects.toThrow(
        `PACS wrong-path (${pacs.rest}/no-such-dicomweb) answered QIDO-RS with HTTP 404`,
      );
      const port = await freePort();
      await svc.pacsSaveNode({ name: 'stopped', dicomweb: `http://127.0.0.1:${port}/dicom-web` });
      await expect(svc.pacsEcho('stopped')).rejects.toThrow(
        `cannot connect to PACS stopped (http://127.0.0.1:${port}/dicom-web): connection refused`,
      );
      const cli = quorumWith(
        { env: { QUORUM_STATE_DIR: state }, timeoutMs: 60_000 },
        'pacs',
        'find',
        '--node',
        'stopped',
      );
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(`cannot connect to PACS stopped (http://127.0.0.1:${port}/dicom-web)`);
      await expect(svc.pacsSaveNode({ name: 'bad', dicomweb: 'ftp://x/y' })).rejects.toThrow(
        /http\(s\) base URL/,
      );
    });
  },
);

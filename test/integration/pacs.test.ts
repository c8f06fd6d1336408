import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import dicomParser from 'dicom-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseInfo, PacsEvent } from '../../core/src/api.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { QuorumService, scratchDir } from '../../workers/src/host/service.ts';
import { startWebHost } from '../../workers/src/host/web.ts';
import { cachedStudies } from '../../workers/src/pacs/cache.ts';
import { quorumWith } from '../helpers/cli.ts';
import { connectApi } from '../helpers/dataset.ts';
import { dicomFiles, freePort, ORTHANC_MISSING, type Orthanc, startOrthanc } from '../helpers/orthanc.ts';
import { DATA } from '../helpers/paths.ts';
import { blobMask, maskDiff, segVoxels } from '../helpers/seg-read.ts';

/**
 * PACS against a real Orthanc started here (test/helpers/orthanc.ts) holding the real GE MR series
 * of dcm_qa_nih (150 images: 15 slices x 10 volumes): find -> retrieve (C-GET) -> open -> SEG ->
 * store (C-STORE) -> the SEG is in Orthanc (REST) with the same voxels; and the failures a user
 * meets (refused association, wrong AE title, stopped PACS, silent PACS), each named.
 */
const GE = join(DATA, 'dicom', 'dcm_qa_nih', 'In', '20180918GE');
const NODE = 'test-pacs';

/** Collects a transfer's events until its final one. */
function collect(): { events: PacsEvent[]; on: (e: PacsEvent) => void; end: Promise<PacsEvent> } {
  const events: PacsEvent[] = [];
  let finish!: (e: PacsEvent) => void;
  const end = new Promise<PacsEvent>((ok) => {
    finish = ok;
  });
  return {
    events,
    end,
    on: (e) => {
      events.push(e);
      if (e.type !== 'progress') finish(e);
    },
  };
}

describe.skipIf(ORTHANC_MISSING)(
  `PACS against a real Orthanc${ORTHANC_MISSING ? ` (skipped: ${ORTHANC_MISSING})` : ''}`,
  () => {
    let pacs: Orthanc;
    let svc: QuorumService;
    let study: string;
    let movePort: number;
    const state = scratchDir('quorum-pacs-state');

    beforeAll(async () => {
      movePort = await freePort();
      // Orthanc knows Quorum's AE title, and where to send a C-MOVE to it.
      pacs = await startOrthanc({ knownAets: [{ aet: 'QUORUM', port: movePort }] });
      const uploaded = await pacs.upload(dicomFiles(GE));
      expect(uploaded).toHaveLength(150);
      svc = new QuorumService({
        mode: 'browser',
        stateDir: state,
        outDir: join(state, 'out'),
        pacsTimeoutMs: 5000,
      });
      await svc.pacsSaveNode({ name: NODE, aet: pacs.aet, host: '127.0.0.1', port: pacs.dicomPort });
    });
    afterAll(async () => {
      await svc?.close();
      await pacs?.stop();
      rmSync(state, { recursive: true, force: true });
      if (pacs) rmSync(pacs.dir, { recursive: true, force: true });
    });

    it('keeps the node in the state folder and answers C-ECHO', async () => {
      const c = await svc.pacsConfig();
      expect(c.file).toBe(join(state, 'pacs-nodes.json'));
      expect(c.localAet).toBe('QUORUM');
      expect(c.nodes).toEqual([{ name: NODE, aet: pacs.aet, host: '127.0.0.1', port: pacs.dicomPort }]);
      expect((await svc.pacsEcho(NODE)).ms).toBeGreaterThan(0);
    });

    it('finds the study by patient, date range and modality, and nothing for other keys', async () => {
      const found = await svc.pacsFind(NODE, {
        patientName: 'Test*',
        studyDate: '20180101-20181231',
        modality: 'MR',
      });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        patientName: 'Test^Regression',
        patientId: 'DEV',
        studyDate: '20180918',
        modalities: ['MR'],
        instances: 150,
        series: 1,
      });
      study = found[0].studyInstanceUid;
      expect(await svc.pacsFind(NODE, { modality: 'CT' })).toEqual([]);
      expect(await svc.pacsFind(NODE, { patientId: 'NOBODY' })).toEqual([]);
      expect(await svc.pacsFind(NODE, { studyDate: '20190101-' })).toEqual([]);
      await expect(svc.pacsFind(NODE, { studyDate: '18.9.2018' })).rejects.toThrow(/YYYYMMDD/);
    });

    it('cancels a retrieve: the stream ends cancelled and no partial study is left to open', async () => {
      const c = collect();
      let cancelled = false;
      const { transferId } = await svc.pacsRetrieve(NODE, study, (e) => {
        c.on(e);
        if (e.type === 'progress' && e.done >= 5 && !cancelled) {
          cancelled = true;
          void svc.pacsCancel(transferId);
        }
      });
      // A second retrieve of the same study meanwhile is refused (it would write the same folder).
      await expect(svc.pacsRetrieve(NODE, study, () => {})).rejects.toThrow(/is being retrieved already/);
      const end = await c.end;
      expect(end.type).toBe('cancelled');
      expect(cachedStudies(state)).toEqual([]);
      expect(readdirSync(join(state, 'pacs-cache'))).toEqual([]);
    });

    let info: CaseInfo;
    let caseFolder: string;
    it('retrieves the study with C-GET, one progress event per image, and opens it as a DICOM case', async () => {
      const c = collect();
      await svc.pacsRetrieve(NODE, study, c.on);
      const end = await c.end;
      expect(end).toMatchObject({ type: 'done', done: 150, failed: 0 });
      const progress = c.events.filter((e) => e.type === 'progress' && e.done > 0);
      expect(new Set(progress.map((e) => (e as { done: number }).done)).size).toBe(150);
      caseFolder = (end as { folder: string }).folder;
      expect(caseFolder).toBe(join(state, 'pacs-cache', study));
      expect(readdirSync(caseFolder).filter((f) => f.endsWith('.dcm'))).toHaveLength(150);
      // Opened as the app opens a folder: this fMRI series is no sequence the model reads, and the
      // message says so; assigned explicitly (as a user does), it opens with the original voxels.
      await expect(svc.openCase(caseFolder)).rejects.toThrow(/no MRI sequence found[\s\S]*Axial EPI-FMRI/);
      info = await svc.openCase({ flair: caseFolder });
      expect(info.format).toBe('dicom');
      expect(info.geometry.dims).toEqual([64, 64, 15]);
      expect(info.canExportDicomSeg).toBe(true);
      const got = await svc.getVolume(info.id, 'flair');
      const original = await loadVolume(join(GE, 'mr_0004'));
      expect(got.data.length).toBe(original.data.length);
      let diff = 0;
      for (let i = 0; i < original.data.length; i++) if (got.data[i] !== original.data[i]) diff++;
      expect(diff).toBe(0);
    });

    it('retrieves with C-MOVE into a storage SCP that listens only while the move runs', async () => {
      const viaGet = readdirSync(caseFolder).sort();
      await svc.pacsSaveNode({
        name: 'move-pacs',
        aet: pacs.aet,
        host: '127.0.0.1',
        port: pacs.dicomPort,
        retrieve: 'c-move',
        movePort,
      });
      const c = collect();
      await svc.pacsRetrieve('move-pacs', study, c.on);
      const end = await c.end;
      expect(end).toMatchObject({ type: 'done', done: 150, failed: 0, folder: caseFolder });
      expect(new Set(c.events.map((e) => (e as { done?: number }).done)).size).toBeGreaterThanOrEqual(150);
      expect(readdirSync(caseFolder).sort()).toEqual(viaGet);
      const moved = await svc.openCase({ flair: caseFolder });
      const original = await loadVolume(join(GE, 'mr_0004'));
      expect(
        maskDiff(
          new Uint8Array((await svc.getVolume(moved.id, 'flair')).data.buffer),
          new Uint8Array(original.data.buffer),
        ),
      ).toBe(0);
      await svc.closeCase(moved.id);
      // The SCP is gone: the port is free again.
      const probe = createServer();
      await new Promise<void>((ok, fail) => probe.once('error', fail).listen(movePort, ok));
      probe.close();
    });

    it('over the WebSocket API: a client that goes away mid-retrieve stops it, and the cached copy stays whole', async () => {
      const host = await startWebHost({ port: 0, rendererDir: state, service: svc });
      const { api, ws } = await connectApi(host);
      const before = statSync(caseFolder).ino;
      try {
        let seen = 0;
        const gone = new Promise<void>((ok) => {
          void api.pacsRetrieve(NODE, study, (e) => {
            if (e.type === 'progress' && e.done >= 3 && !seen++) {
              ws.close();
              ok();
            }
          });
        });
        await gone;
        const partial = `${caseFolder}.partial`;
        await expect.poll(() => existsSync(partial), { timeout: 15_000 }).toBe(false);
        // Cancelled, not completed: a completed retrieve would have replaced the folder.
        expect(statSync(caseFolder).ino).toBe(before);
        expect(readdirSync(caseFolder)).toHaveLength(150);
      } finally {
        await host.close();
      }
    });

    it('stores the case SEG with C-STORE; Orthanc holds it in the study with the same voxels', async () => {
      const lesion = [2, 7, 11];
      const mask = blobMask(info.geometry.dims, lesion);
      const c = collect();
      await svc.pacsStore({ node: NODE, caseId: info.id, mask }, c.on);
      const end = await c.end;
      expect(end).toMatchObject({ type: 'done', done: 1, failed: 0 });
      expect(c.events.filter((e) => e.type === 'progress')).toHaveLength(1);

      const studies = await pacs.get<string[]>('/studies');
      expect(studies).toHaveLength(1); // the SEG joined the source study
      const series = await pacs.get<{ MainDicomTags: { Modality: string }; Instances: string[] }[]>(
        `/studies/${studies[0]}/series`,
      );
      const seg = series.filter((s) => s.MainDicomTags.Modality === 'SEG');
      expect(seg).toHaveLength(1);
      expect(seg[0].Instances).toHaveLength(1);
      const back = segVoxels(await pacs.getBytes(`/instances/${seg[0].Instances[0]}/file`), info.geometry);
      expect(back.study).toBe(study);
      expect(back.frames).toBe(lesion.length);
      expect(maskDiff(back.mask, mask)).toBe(0);
    });

    it('refuses an unknown node before writing anything', async () => {
      await expect(
        svc.pacsStore({ node: 'elsewhere', caseId: info.id, mask: new Uint8Array(1) }, () => {}),
      ).rejects.toThrow(/no PACS node named elsewhere .*configured: test-pacs/);
      expect(readdirSync(join(state, 'pacs-outbox')).filter((f) => f.endsWith('.dcm'))).toHaveLength(1);
    });

    it('names the node when the association is refused: unknown calling AE, wrong called AE', async () => {
      await svc.pacsSaveNode({
        name: 'wrong-aet',
        aet: 'NOT_ORTHANC',
        host: '127.0.0.1',
        port: pacs.dicomPort,
      });
      await expect(svc.pacsFind('wrong-aet', {})).rejects.toThrow(
        /PACS wrong-aet \(NOT_ORTHANC@127\.0\.0\.1:\d+\) refused the association for C-FIND: it does not answer to the called AE title NOT_ORTHANC/,
      );
      const stranger = new QuorumService({ mode: 'browser', stateDir: scratchDir('quorum-pacs-stranger') });
      stranger.pacs.saveNode({ name: NODE, aet: pacs.aet, host: '127.0.0.1', port: pacs.dicomPort });
      const { setLocalAet } = await import('../../workers/src/pacs/nodes.ts');
      setLocalAet(stranger.stateDir, 'STRANGER');
      const c = collect();
      await stranger.pacsRetrieve(NODE, study, c.on);
      const end = await c.end;
      expect(end.type).toBe('error');
      expect((end as { message: string }).message).toMatch(
        /PACS test-pacs \(ORTHANC_TEST@127\.0\.0\.1:\d+\) refused the association for C-GET: it does not know Quorum's AE title STRANGER/,
      );
      expect(cachedStudies(stranger.stateDir)).toEqual([]);
      await stranger.close();
      rmSync(stranger.stateDir, { recursive: true, force: true });
    });

    it('names the node when the PACS is not running (connection refused) or does not answer (timeout)', async () => {
      const closedPort = await freePort();
      await svc.pacsSaveNode({ name: 'stopped', aet: 'GONE', host: '127.0.0.1', port: closedPort });
      await expect(svc.pacsEcho('stopped')).rejects.toThrow(
        `cannot connect to PACS stopped (GONE@127.0.0.1:${closedPort}): connection refused`,
      );
      // A port that accepts the connection and never says a word: the association times out.
      const silent: Server = createServer(() => {});
      await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', ok));
      const port = (silent.address() as { port: number }).port;
      await svc.pacsSaveNode({ name: 'silent', aet: 'MUTE', host: '127.0.0.1', port });
      const t0 = Date.now();
      await expect(svc.pacsFind('silent', {})).rejects.toThrow(
        `PACS silent (MUTE@127.0.0.1:${port}) did not answer within 5 s`,
      );
      expect(Date.now() - t0).toBeLessThan(15_000);
      // The CLI gives up as well, and exits (the socket is not left half-open).
      const cli = quorumWith(
        { timeoutMs: 30_000 },
        'pacs',
        'echo',
        '--aet',
        'MUTE',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--timeout',
        '1',
        '--state-dir',
        state,
      );
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(`PACS command-line (MUTE@127.0.0.1:${port}) did not answer within 1 s`);
      silent.close();
    });

    it('CLI: find as JSON, get with per-image progress on stderr, store, and a refusal that names the node', () => {
      const env = { QUORUM_STATE_DIR: state };
      const find = quorumWith(
        { env, timeoutMs: 60_000 },
        'pacs',
        'find',
        '--node',
        NODE,
        '--modality',
        'MR',
        '--json',
      );
      expect(find.stderr).toBe('');
      expect(find.code).toBe(0);
      expect(JSON.parse(find.stdout).map((s: { studyInstanceUid: string }) => s.studyInstanceUid)).toEqual([
        study,
      ]);

      const get = quorumWith({ env, timeoutMs: 120_000 }, 'pacs', 'get', '--node', NODE, study);
      expect(get.code, get.stderr).toBe(0);
      expect(get.stdout.trim()).toBe(caseFolder);
      expect(get.stderr.split('\n').filter((l) => /image\(s\)$/.test(l)).length).toBeGreaterThanOrEqual(150);

      const seg = readdirSync(join(state, 'pacs-outbox')).filter((f) => f.endsWith('_seg.dcm'));
      const store = quorumWith(
        { env, timeoutMs: 60_000 },
        'pacs',
        'store',
        '--aet',
        pacs.aet,
        '--host',
        '127.0.0.1',
        '--port',
        String(pacs.dicomPort),
        join(state, 'pacs-outbox', seg[0]),
      );
      expect(store.code, store.stderr).toBe(0);
      expect(store.stdout).toMatch(/stored 1 file\(s\)/);

      const refused = quorumWith({ env, timeoutMs: 60_000 }, 'pacs', 'echo', '--node', 'wrong-aet');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/quorum pacs: PACS wrong-aet .* refused the association for C-ECHO/);
      expect(existsSync(join(state, 'pacs-nodes.json'))).toBe(true);
    });
  },
);

/** The dataset after the File Meta Information: what a PACS sent, without the header Quorum wrote. */
function datasetBytes(file: Uint8Array): Uint8Array {
  const ds = dicomParser.parseDicom(file, { untilTag: 'x00080005' });
  let end = 0;
  for (const [tag, el] of Object.entries(ds.elements))
    if (tag.startsWith('x0002')) end = Math.max(end, el.dataOffset + el.length);
  return file.subarray(end);
}

describe.skipIf(ORTHANC_MISSING)('a Siemens mosaic through C-GET and C-MOVE', () => {
  const MOSAIC = join(DATA, 'dicom', 'dcm_qa_ts', 'In', '1.dcm');
  let pacs: Orthanc;
  let svc: QuorumService;
  let movePort: number;
  const state = scratchDir('quorum-pacs-mosaic');

  beforeAll(async () => {
    movePort = await freePort();
    pacs = await startOrthanc({ knownAets: [{ aet: 'QUORUM', port: movePort }] });
    await pacs.upload([MOSAIC]);
    svc = new QuorumService({ mode: 'browser', stateDir: state, pacsTimeoutMs: 5000 });
    const dimseNode = { aet: pacs.aet, host: '127.0.0.1', port: pacs.dicomPort };
    await svc.pacsSaveNode({ name: 'get', ...dimseNode });
    await svc.pacsSaveNode({ name: 'move', ...dimseNode, retrieve: 'c-move', movePort });
  });
  afterAll(async () => {
    await svc?.close();
    await pacs?.stop();
    rmSync(state, { recursive: true, force: true });
    if (pacs) rmSync(pacs.dir, { recursive: true, force: true });
  });

  it('keeps every element as sent, private ones included, so the mosaic unpacks as the original', async () => {
    const [study] = await svc.pacsFind('get', {});
    const original = await loadVolume(MOSAIC);
    for (const node of ['get', 'move']) {
      const c = collect();
      await svc.pacsRetrieve(node, study.studyInstanceUid, c.on);
      const end = (await c.end) as { type: string; folder: string };
      expect(end.type, node).toBe('done');
      const [file] = readdirSync(end.folder);
      expect(datasetBytes(new Uint8Array(readFileSync(join(end.folder, file)))), node).toEqual(
        datasetBytes(new Uint8Array(readFileSync(MOSAIC))),
      );
      const got = await loadVolume(end.folder);
      expect(got.dims, node).toEqual([64, 64, 35]);
      expect(maskDiff(new Uint8Array(got.data.buffer), new Uint8Array(original.data.buffer)), node).toBe(0);
    }
  });
});

/**
 * PACS retrieve speed against a local Orthanc (test/helpers/orthanc.ts) holding the GE EPI series
 * of dcm_qa_nih (150 images): a study retrieved into Quorum's cache by C-GET, C-MOVE and WADO-RS,
 * and, for reference, by DCMTK's getscu against the same Orthanc (when installed): the PACS's own
 * pace, which bounds what any DIMSE client can do. Median of N runs. Env: QUORUM_BENCH_PACS_N (3).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PacsEvent } from '../core/src/api-pacs.ts';
import { dicomFiles, freePort, ORTHANC_MISSING, startOrthanc } from '../test/helpers/orthanc.ts';
import { PacsService } from '../workers/src/pacs/service.ts';
import type { BenchRow } from './types.ts';

export const title = 'PACS retrieve (C-GET, C-MOVE, WADO-RS) from a local Orthanc';

const DATA = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'data');
const GE = join(DATA, 'dicom', 'dcm_qa_nih', 'In', '20180918GE');
const N = Number(process.env.QUORUM_BENCH_PACS_N ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function retrieve(pacs: PacsService, node: string, study: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((ok, fail) => {
    pacs.retrieve(node, study, (e: PacsEvent) => {
      if (e.type === 'done') ok(performance.now() - t0);
      else if (e.type !== 'progress') fail(new Error(JSON.stringify(e)));
    });
  });
}

export async function run(): Promise<BenchRow[]> {
  if (ORTHANC_MISSING) throw new Error(ORTHANC_MISSING);
  const movePort = await freePort();
  const orthanc = await startOrthanc({ knownAets: [{ aet: 'QUORUM', port: movePort }] });
  const state = mkdtempSync(join(tmpdir(), 'quorum-bench-pacs-'));
  try {
    const files = dicomFiles(GE);
    await orthanc.upload(files);
    const pacs = new PacsService(state);
    const dimse = { aet: orthanc.aet, host: '127.0.0.1', port: orthanc.dicomPort };
    pacs.saveNode({ name: 'get', ...dimse });
    pacs.saveNode({ name: 'move', ...dimse, retrieve: 'c-move', movePort });
    pacs.saveNode({ name: 'web', dicomweb: orthanc.dicomweb });
    const [study] = await pacs.find('get', {});
    const rows: BenchRow[] = [];
    const n = files.length;
    for (const [node, how] of [
      ['get', 'C-GET'],
      ['move', 'C-MOVE'],
      ['web', 'WADO-RS'],
    ]) {
      const times: number[] = [];
      for (let i = 0; i < N; i++) times.push(await retrieve(pacs, node, study.studyInstanceUid));
      rows.push({
        group: 'pacs',
        name: `retrieve ${n} images, ${how}`,
        value: median(times) / n,
        unit: 'ms/image',
      });
    }
    if (existsSync('/usr/bin/getscu')) {
      const times: number[] = [];
      for (let i = 0; i < N; i++) {
        const out = mkdtempSync(join(tmpdir(), 'quorum-bench-getscu-'));
        const t0 = performance.now();
        execFileSync('/usr/bin/getscu', [
          '-aet',
          'QUORUM',
          '-aec',
          orthanc.aet,
          '-od',
          out,
          '-k',
          'QueryRetrieveLevel=STUDY',
          '-k',
          `StudyInstanceUID=${study.studyInstanceUid}`,
          '127.0.0.1',
          String(orthanc.dicomPort),
        ]);
        times.push(performance.now() - t0);
        rmSync(out, { recursive: true, force: true });
      }
      rows.push({
        group: 'pacs',
        name: `retrieve ${n} images, DCMTK getscu (reference)`,
        value: median(times) / n,
        unit: 'ms/image',
        note: "the same Orthanc's C-GET pace",
      });
    }
    return rows;
  } finally {
    await orthanc.stop();
    rmSync(state, { recursive: true, force: true });
  }
}

import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { CaseInfo, SliceResult } from '../../core/src/api.ts';
import { uncertaintyScore } from '../../core/src/metrics.ts';
import { openCase } from '../../core/src/node/case.ts';
import { loadVolume, writeNiftiFile } from '../../core/src/node/load.ts';
import type { Volume } from '../../core/src/volume.ts';
import type { CaseReport } from '../../workers/src/case-report.ts';
import { EngineClient } from '../../workers/src/client.ts';
import { QuorumService } from '../../workers/src/host/service.ts';
import { startWebHost, type WebHost } from '../../workers/src/host/web.ts';
import { proposeCaseToDir } from '../../workers/src/propose-case.ts';
import { connectApi } from '../helpers/dataset.ts';
import { PAT3 } from '../helpers/paths.ts';

/**
 * QuorumApi.loadProposal on a real proposal folder: written by the real proposeCaseToDir (the
 * code behind `quorum propose`, propose-dataset and the pre-labelling queue) with the shipped
 * model on two slices of the held-out pat0003, then read back through the host service and the
 * browser-mode WebSocket, and compared voxel for voxel with the NIfTI files.
 */
const root = mkdtempSync(join(tmpdir(), 'quorum-load-proposal-'));
const proposal = join(root, 'proposal');
const SLICES: [number, number] = [79, 80];

describe('loadProposal: a pre-labelled proposal folder back as slice results', () => {
  let engine: EngineClient;
  let svc: QuorumService;
  let host: WebHost;
  let ws: WebSocket;
  let info: CaseInfo;
  let report: CaseReport;
  let mask: Volume;
  let std: Volume;
  let results: SliceResult[];

  beforeAll(async () => {
    engine = await EngineClient.start({ device: 'cpu' });
    // The service gets the same engine, so the test runs one engine process.
    svc = new QuorumService({
      mode: 'browser',
      stateDir: join(root, 'state'),
      outDir: join(root, 'out'),
      startEngine: async () => engine,
    });
    const t0 = performance.now();
    report = await proposeCaseToDir(engine, await openCase(PAT3), proposal, {
      slices: SLICES,
      members: 2,
      steps: 2,
      seed: 11,
    }).result;
    console.log(`proposal of 2 slices written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    mask = await loadVolume(join(proposal, 'mask.nii.gz'));
    std = await loadVolume(join(proposal, 'uncertainty.nii.gz'));
    info = await svc.openCase(PAT3);
  });
  afterAll(async () => {
    ws?.close();
    await host?.close();
    await svc?.close();
    await engine?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('returns exactly the proposed slices, voxels equal to mask.nii.gz and uncertainty.nii.gz, scores from report.json', async () => {
    results = await svc.loadProposal(info.id, proposal);
    const [nx, ny, nz] = info.geometry.dims;
    const plane = nx * ny;
    // The slices of the files with a mask voxel or a non-zero std: the two proposed ones.
    const expected: number[] = [];
    for (let k = 0; k < nz; k++) {
      let any = false;
      for (let i = k * plane; i < (k + 1) * plane && !any; i++) any = mask.data[i] !== 0 || std.data[i] !== 0;
      if (any) expected.push(k);
    }
    expect(expected).toEqual([79, 80]);
    expect(results.map((r) => r.k)).toEqual(expected);
    expect(report.slices.map((s) => s.k)).toEqual(expected);
    let lesion = 0;
    for (const r of results) {
      expect([r.width, r.height, r.memberCount]).toEqual([nx, ny, 2]);
      const off = r.k * plane;
      expect(Array.from(r.mask)).toEqual(Array.from(mask.data.subarray(off, off + plane)));
      expect(r.std).toEqual(new Float32Array(std.data.subarray(off, off + plane)));
      expect(Array.from(r.mean)).toEqual(Array.from(r.mask));
      for (const v of r.mask) lesion += v;
      const fromReport = report.slices.find((s) => s.k === r.k)!.uncertainty;
      expect(r.score).toBe(fromReport);
      // The report's score is the engine's formula over the same std (before the float32 file).
      expect(uncertaintyScore(r.std, info.geometry.spacing[0] * info.geometry.spacing[1])).toBeCloseTo(
        fromReport,
        3,
      );
      expect(r.score).toBeGreaterThan(0);
    }
    // pat0003's tumour is on these slices: a real proposal, not an empty one.
    expect(lesion).toBeGreaterThan(500);
    const voxelMl = info.geometry.spacing.reduce((a, b) => a * b, 1) / 1000;
    expect(lesion * voxelMl).toBeCloseTo(report.lesionVolumeMl, 6);
  });

  it('computes the score with the engine formula when report.json does not list the slice', async () => {
    const dir = join(root, 'no-slice-scores');
    cpSync(proposal, dir, { recursive: true });
    writeFileSync(join(dir, 'report.json'), JSON.stringify({ ...report, slices: [] }));
    const r = await svc.loadProposal(info.id, dir);
    const pixelArea = info.geometry.spacing[0] * info.geometry.spacing[1];
    expect(r.map((s) => s.k)).toEqual([79, 80]);
    for (const s of r) expect(s.score).toBe(uncertaintyScore(s.std, pixelArea));
  });

  it('loads a report written before the case confidence (no confidence fields) the same', async () => {
    expect(report.confidence).toBeGreaterThan(0);
    expect(report.confidence).toBeLessThanOrEqual(1);
    const dir = join(root, 'pre-confidence');
    cpSync(proposal, dir, { recursive: true });
    const { confidence: _c, lowConfidence: _l, confidenceLowBelow: _t, uncertainMl: _u, ...old } = report;
    writeFileSync(join(dir, 'report.json'), JSON.stringify(old));
    const r = await svc.loadProposal(info.id, dir);
    expect(r.map((s) => [s.k, s.score])).toEqual(results.map((s) => [s.k, s.score]));
  });

  it('arrives the same over the browser-mode WebSocket (binary frames)', async () => {
    host = await startWebHost({ port: 0, service: svc, rendererDir: root });
    const c = await connectApi(host);
    ws = c.ws;
    const api = c.api;
    const remote = await api.loadProposal(info.id, proposal);
    expect(remote.map((r) => r.k)).toEqual(results.map((r) => r.k));
    for (const [i, r] of remote.entries()) {
      expect(r.mask).toBeInstanceOf(Uint8Array);
      expect(r.std).toBeInstanceOf(Float32Array);
      expect(r.mask).toEqual(results[i].mask);
      expect(r.std).toEqual(results[i].std);
      expect(r.score).toBe(results[i].score);
    }
    await expect(api.loadProposal(info.id, join(root, 'nowhere'))).rejects.toMatchObject({
      code: 'not-found',
      file: join(root, 'nowhere', 'report.json'),
    });
  });

  /** A copy of the proposal folder with `change` applied to it. */
  const broken = (name: string, change: (dir: string) => void) => {
    const dir = join(root, name);
    cpSync(proposal, dir, { recursive: true });
    change(dir);
    return dir;
  };

  it('refuses a missing, corrupt or foreign file with an error naming it', async () => {
    const noStd = broken('no-std', (d) => unlinkSync(join(d, 'uncertainty.nii.gz')));
    await expect(svc.loadProposal(info.id, noStd)).rejects.toMatchObject({
      code: 'not-found',
      file: join(noStd, 'uncertainty.nii.gz'),
    });
    const noReport = broken('no-report', (d) => unlinkSync(join(d, 'report.json')));
    await expect(svc.loadProposal(info.id, noReport)).rejects.toMatchObject({
      code: 'not-found',
      file: join(noReport, 'report.json'),
      message: expect.stringMatching(/incomplete/),
    });
    const badReport = broken('bad-report', (d) => writeFileSync(join(d, 'report.json'), '{"case": '));
    await expect(svc.loadProposal(info.id, badReport)).rejects.toMatchObject({
      code: 'corrupt',
      file: join(badReport, 'report.json'),
    });
    // A truncated gzip stream, as a copy interrupted mid-file leaves it.
    const truncated = broken('truncated', (d) => {
      const f = join(d, 'mask.nii.gz');
      writeFileSync(f, readFileSync(f).subarray(0, 4000));
    });
    const err = await svc.loadProposal(info.id, truncated).catch((e) => e);
    expect(err.file).toBe(join(truncated, 'mask.nii.gz'));
    expect(['truncated', 'corrupt']).toContain(err.code);
    // Another case's grid: a real NIfTI, but 120x120x60.
    const foreign = broken('foreign', (d) => {
      unlinkSync(join(d, 'mask.nii.gz'));
      writeNiftiFile(
        join(d, 'mask.nii.gz'),
        { ...mask, dims: [120, 120, 60], data: new Uint8Array(120 * 120 * 60) },
        // the copy is removed first: Quorum never writes over a file it did not write
        { datatype: 'uint8' },
      );
    });
    await expect(svc.loadProposal(info.id, foreign)).rejects.toMatchObject({
      code: 'bad-argument',
      file: join(foreign, 'mask.nii.gz'),
      message: expect.stringMatching(/120x120x60 voxels but the open case is 240x240x155/),
    });
    const nan = broken('nan-std', (d) => {
      const data = new Float32Array(std.data);
      data[80 * 240 * 240 + 1000] = Number.NaN;
      unlinkSync(join(d, 'uncertainty.nii.gz'));
      writeNiftiFile(join(d, 'uncertainty.nii.gz'), { ...std, data }, { datatype: 'float32' });
    });
    await expect(svc.loadProposal(info.id, nan)).rejects.toMatchObject({
      code: 'corrupt',
      file: join(nan, 'uncertainty.nii.gz'),
    });
    await expect(svc.loadProposal('no-such-case', proposal)).rejects.toMatchObject({ code: 'bad-argument' });
  });

  it('keeps the loaded std host-side, so an export without a renderer map has it', async () => {
    const [nx, ny, nz] = info.geometry.dims;
    const out = join(root, 'export');
    const res = await svc.export({
      caseId: info.id,
      formats: ['nifti-uncertainty', 'report-json'],
      mask: new Uint8Array(nx * ny * nz),
      targetDir: out,
    });
    const u = await loadVolume(res.files['nifti-uncertainty']!);
    expect(u.data).toBeInstanceOf(Float32Array);
    const bytes = (a: Volume['data']) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    expect(bytes(u.data).equals(bytes(std.data))).toBe(true);
    expect(res.report.slicesProposed.sort((a, b) => a - b)).toEqual([79, 80]);
  });
});

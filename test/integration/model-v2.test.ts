import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SliceResult } from '../../core/src/api.ts';
import { bidimensional } from '../../core/src/diameters.ts';
import { uncertainIslands } from '../../core/src/islands.ts';
import { loadVolume, writeNiftiFile } from '../../core/src/node/load.ts';
import type { Vec3, Volume } from '../../core/src/volume.ts';
import type { CaseReport } from '../../workers/src/case-report.ts';
import { readManifest } from '../../workers/src/engine/session.ts';
import { QuorumService } from '../../workers/src/host/service.ts';
import { quorumWith } from '../helpers/cli.ts';
import { proposeEvents } from '../helpers/host-run.ts';
import { DATA, REPO } from '../helpers/paths.ts';
import { reorder, world } from '../helpers/reorder.ts';

/**
 * The shipped default model on a TCGA-LGG patient from the site it never saw in training
 * (models/quorum-wt-v2/manifest.json training.split: site FG is held out whole). The scan is as the
 * site stored it: skull present, 8-bit, thick slices. Through the CLI a user would run.
 */
const PATIENT = join(DATA, 'tcga-lgg', 'TCGA_FG_6689_20020326');
const MODEL_DIR = join(REPO, 'models', 'quorum-wt-v2');

describe('v2 model on an unseen site (quorum propose + quorum evaluate)', () => {
  const out = mkdtempSync(join(tmpdir(), 'quorum-v2-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  const cli = (...args: string[]) => {
    const r = quorumWith({}, ...args);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  it('is the default model, and the patient is held out of its training', () => {
    const manifest = readManifest(MODEL_DIR);
    expect(manifest.training.heldOut).toContain('TCGA_FG_6689_20020326');
    expect(manifest.training.subjects.some((s) => s.startsWith('TCGA_FG_'))).toBe(false);
  });

  let storedDice = 0;
  let cliReport: CaseReport | undefined;
  it('whole-volume Dice >= 0.7 against the expert mask, with a case confidence in report.json', () => {
    const run = quorumWith({}, 'propose', PATIENT, '--out', out, '--seed', '0');
    expect(run.code, run.stderr).toBe(0);
    const said = JSON.parse(run.stdout.trim().split('\n').at(-1) as string);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.model.name).toBe('quorum-wt-v2');
    expect(report.confidence).toBeGreaterThanOrEqual(0);
    expect(report.confidence).toBeLessThanOrEqual(1);
    // the CLI's summary line carries it too, as report.json has it
    expect(said).toMatchObject({ confidence: report.confidence, lowConfidence: report.lowConfidence });
    // and a flagged case says so on stderr (this patient is not flagged with the shipped model: 0.947)
    expect(run.stderr.includes('low confidence (')).toBe(report.lowConfidence);
    const r = JSON.parse(
      cli('evaluate', '--pred', join(out, 'mask.nii.gz'), '--truth', join(PATIENT, 'seg.nii.gz')),
    );
    // a floor; the measured figure for this patient and every held-out dataset is in the README
    expect(r.dice).toBeGreaterThanOrEqual(0.7);
    storedDice = r.dice;
    cliReport = report;
    // no scalp rim or far-away false positives: the proposal is within 2x the lesion volume
    expect(r.predVolumeMl).toBeLessThan(2 * r.truthVolumeMl);
    // a whole volume: ~20 s on an idle 2-core machine; the limit only guards against a hang
  }, 240_000);

  it("drops the model's small uncertain islands, and nothing the rule keeps", async () => {
    const rule = readManifest(MODEL_DIR).recommended.dropIslands;
    expect(rule, 'the shipped model has an island rule').toBeDefined();
    expect(cliReport?.settings.islands).toEqual(rule);
    const mask = await loadVolume(join(out, 'mask.nii.gz'));
    const map = await loadVolume(join(out, 'uncertainty.nii.gz'));
    const [sx, sy, sz] = mask.spacing;
    const voxelMl = (sx * sy * sz) / 1000;
    // what was written has no island left that the rule would drop, except where the edge rule
    // (after it) grew a component: the report lists what it added
    const left = uncertainIslands(mask.data, map.data, mask.dims, voxelMl, rule!).islands;
    if (!cliReport?.grownEdge?.ml) expect(left).toEqual([]);
    for (const x of cliReport!.droppedIslands ?? []) {
      expect(x.ml).toBeLessThan(rule!.belowMl);
      expect(x.meanUncertainty).toBeGreaterThanOrEqual(rule!.uncertaintyAtLeast);
      expect(mask.data[x.voxel[0] + mask.dims[0] * (x.voxel[1] + mask.dims[1] * x.voxel[2])]).toBe(0);
    }
    let lesion = 0;
    for (const v of mask.data) lesion += v ? 1 : 0;
    expect(cliReport!.lesionVolumeMl).toBeCloseTo(lesion * voxelMl, 9);
    // the RANO measurement in report.json is the written mask's, and near the expert's
    expect(cliReport!.bidimensional).toEqual(bidimensional(mask.data, mask));
    const truth = bidimensional((await loadVolume(join(PATIENT, 'seg.nii.gz'))).data, mask)!;
    const m = cliReport!.bidimensional!;
    console.log(
      `RANO: proposal ${m.longestMm.toFixed(1)} x ${m.perpendicularMm.toFixed(1)} mm (slice ${m.k}), ` +
        `reference ${truth.longestMm.toFixed(1)} x ${truth.perpendicularMm.toFixed(1)} mm (slice ${truth.k})`,
    );
    expect(Math.abs(m.longestMm - truth.longestMm) / truth.longestMm).toBeLessThan(0.2);
    expect(Math.abs(m.productMm2 - truth.productMm2) / truth.productMm2).toBeLessThan(0.3);
  });

  it("grows the proposal's edge by the model's rule, only into voxels the members left out", async () => {
    const edge = readManifest(MODEL_DIR).recommended.growEdge;
    expect(edge, 'the shipped model has an edge rule').toBeDefined();
    expect(cliReport?.settings.edge).toEqual(edge);
    const grown = cliReport!.grownEdge!;
    // this patient's lesion is brighter than its surround on the FLAIR, so the rule applies
    expect(grown.lesionLevel).toBeGreaterThan(grown.normalLevel!);
    expect(grown.threshold).toBeCloseTo(
      grown.normalLevel! + edge!.alpha * (grown.lesionLevel! - grown.normalLevel!),
      9,
    );
    expect(grown.ml).toBeGreaterThan(0);
    // --edge keep: the same proposal less exactly what the rule added (at the host test's fast
    // settings, which run next: 2 members x 2 steps, a fifth of the cost)
    const fastArgs = ['--seed', '0', '--members', '2', '--steps', '2'];
    cli('propose', PATIENT, '--out', join(out, 'fast'), ...fastArgs, '--export', 'nifti-probability');
    cli('propose', PATIENT, '--out', join(out, 'fast-keep'), ...fastArgs, '--edge', 'keep');
    const report = (d: string) => JSON.parse(readFileSync(join(out, d, 'report.json'), 'utf8')) as CaseReport;
    const [grew, kept] = [report('fast'), report('fast-keep')];
    expect(grew.settings.edge).toEqual(edge);
    expect(kept.settings.edge).toBe('keep');
    expect(kept.grownEdge).toBeUndefined();
    expect(grew.grownEdge?.ml).toBeGreaterThan(0);
    expect(grew.lesionVolumeMl - kept.lesionVolumeMl).toBeCloseTo(grew.grownEdge!.ml, 9);
    const [a, b] = [
      await loadVolume(join(out, 'fast', 'mask.nii.gz')),
      await loadVolume(join(out, 'fast-keep', 'mask.nii.gz')),
    ];
    let lost = 0;
    for (let v = 0; v < a.data.length; v++) lost += b.data[v] && !a.data[v] ? 1 : 0;
    expect(lost, 'growing never removes a voxel').toBe(0);
  }, 240_000);

  it('gives the viewer (a host run over every slice) the mask quorum propose wrote, islands dropped alike', async () => {
    // 2 members x 2 steps on both sides: the same code paths as the shipped settings at a fifth of
    // the cost, and with seed 0 this patient then has small uncertain islands to drop
    const fast = { members: 2, steps: 2, seed: 0 };
    const cliOut = join(out, 'fast'); // written by the edge test above, at these settings
    const fastReport = JSON.parse(readFileSync(join(cliOut, 'report.json'), 'utf8')) as CaseReport;
    const svc = new QuorumService({
      mode: 'browser',
      stateDir: join(out, 'host'),
      outDir: join(out, 'host-out'),
    });
    try {
      const info = await svc.openCase(PATIENT);
      const events = await proposeEvents(svc, { caseId: info.id, slices: 'all', ...fast });
      const done = events[events.length - 1];
      if (done.type !== 'done') throw new Error(`the run ended with ${JSON.stringify(done)}`);
      const dropped = fastReport.droppedIslands ?? [];
      expect(dropped.length, 'islands to drop').toBeGreaterThan(0);
      expect(done.islands).toEqual({
        count: dropped.length,
        ml: expect.closeTo(
          dropped.reduce((a, x) => a + x.ml, 0),
          9,
        ),
      });
      expect(fastReport.grownEdge?.ml, 'edge to grow').toBeGreaterThan(0);
      expect(done.edge).toEqual({ ml: expect.closeTo(fastReport.grownEdge!.ml, 9) });
      // the last result of each slice is what the viewer shows
      const last = new Map<number, SliceResult>();
      for (const e of events) if (e.type === 'slice') last.set(e.result.k, e.result);
      const mask = await loadVolume(join(cliOut, 'mask.nii.gz'));
      const plane = mask.dims[0] * mask.dims[1];
      let differ = 0;
      for (let k = 0; k < mask.dims[2]; k++) {
        const r = last.get(k);
        for (let i = 0; i < plane; i++) differ += (r ? r.mask[i] : 0) !== mask.data[k * plane + i] ? 1 : 0;
      }
      expect(differ).toBe(0);
      // each slice with a dropped island or a grown edge came twice: as proposed, then as finished (a
      // 26-connected island has voxels on every slice from its first to its last; a grown voxel is
      // one of the mask with a mean probability <= 0.5)
      const again = new Set<number>();
      for (const {
        slices: [k0, k1],
      } of dropped)
        for (let k = k0; k <= k1; k++) again.add(k);
      const prob = await loadVolume(join(cliOut, 'probability.nii.gz'));
      for (let v = 0; v < mask.data.length; v++)
        if (mask.data[v] && prob.data[v] <= 0.5) again.add(Math.floor(v / plane));
      expect(events.filter((e) => e.type === 'slice').length - last.size).toBe(again.size);
    } finally {
      await svc.close();
    }
  }, 240_000);

  it("scores the paper's own BraTS2020 slices (one 240x240 slice per file, in [0, 1]; never trained on) against their labels", () => {
    // Wolleb et al.'s data layout: another preprocessing (BraTS 2020, min-max scaled), and single
    // slices, so none of the model's through-plane context. propose-dataset finds each folder's
    // *_seg_* file as its label and scores the proposal against it (summary.csv label_dice).
    const slices = join(DATA, 'brats-4seq', 'wolleb-brats2020-slices', 'training');
    const dsOut = join(out, 'paper-slices');
    const last = JSON.parse(
      cli('propose-dataset', slices, '--out', dsOut, '--seed', '0').trim().split('\n').at(-1)!,
    );
    expect(last).toMatchObject({ cases: 6, done: 6, labelled: 6 });
    const [head, ...rows] = readFileSync(join(dsOut, 'summary.csv'), 'utf8').trim().split('\n');
    const col = head.split(',').indexOf('label_dice');
    const scores = rows.map((l) => Number(l.split(',')[col]));
    console.log(`paper's BraTS2020 slices: Dice ${scores.map((d) => d.toFixed(3)).join(' ')}`);
    // floors; measured 0.85-0.94 (README)
    for (const d of scores) expect(d).toBeGreaterThanOrEqual(0.7);
    expect(last.meanLabelDice).toBeGreaterThanOrEqual(0.8);
  }, 240_000);

  it('proposes as well on the same scan stored as another site would store it', async () => {
    // Another writer's storage of the same voxels: signed 16-bit with its own scale and offset (the
    // T1c float32 with NaN for its background),
    // i and j reversed (a RAS-ordered file), and a matrix half as wide again of background around
    // the head (a quarter on each side). Every voxel keeps its world position, so the re-stored
    // reference is the same lesion.
    // (models/train/robustness.py runs this and 25 other rewritings, models/train/rewritings.py, on held-out cases.)
    expect(storedDice, 'the scan as stored is proposed first').toBeGreaterThan(0);
    const restored = join(out, 'restored');
    mkdirSync(restored);
    const restore = (v: Volume, int16: boolean) => {
      const r = reorder(v, [0, 1, 2], [true, true, false]).volume;
      const [nx, ny, nz] = r.dims;
      const [px, py] = [nx >> 2, ny >> 2];
      const dims: Vec3 = [nx + 2 * px, ny + 2 * py, nz];
      const data = int16 ? new Int16Array(dims[0] * dims[1] * nz) : new Uint8Array(dims[0] * dims[1] * nz);
      data.fill(int16 ? -300 : 0); // the stored background, also in the padding
      for (let k = 0; k < nz; k++)
        for (let j = 0; j < ny; j++)
          for (let i = 0; i < nx; i++) {
            const x = r.data[i + nx * (j + ny * k)];
            data[i + px + dims[0] * (j + py + dims[1] * k)] = int16 ? Math.round(x * 11.7 - 300) : x;
          }
      return { ...r, dims, data, origin: world(r, [-px, -py, 0]) };
    };
    // ... and the T1c as float32 with NaN for that background, as SPM writes a masked image
    // (core/src/finite.ts reads it back as the lowest value)
    const nanBackground = (v: Volume): Volume => ({
      ...v,
      data: Float32Array.from(v.data, (x) => (x === -300 ? Number.NaN : x)),
    });
    for (const s of ['flair', 't1c']) {
      const v = restore(await loadVolume(join(PATIENT, `${s}.nii.gz`)), true);
      writeNiftiFile(join(restored, `${s}.nii.gz`), s === 't1c' ? nanBackground(v) : v);
    }
    const seg = restore(await loadVolume(join(PATIENT, 'seg.nii.gz')), false);
    writeNiftiFile(join(out, 'restored-seg.nii.gz'), seg);
    const outRestored = join(out, 'restored-proposal');
    // The slices of the lesion and two on each side: the padded matrix costs the model 2.25x the
    // pixels per slice, and what is compared is the lesion (false positives elsewhere are the
    // first test's). Slices outside are not proposed, so the Dice below can only be lower.
    const plane = seg.dims[0] * seg.dims[1];
    const lesionSlices = [...Array(seg.dims[2]).keys()].filter((k) =>
      seg.data.subarray(k * plane, (k + 1) * plane).some((v) => v > 0),
    );
    const k0 = Math.max(0, lesionSlices[0] - 2);
    const k1 = Math.min(seg.dims[2] - 1, lesionSlices[lesionSlices.length - 1] + 2);
    expect(k1 - k0 + 1).toBeLessThan(seg.dims[2]);
    // --islands keep: the rule moves Dice by < 0.002 on this case (README), so either compares
    const slab = ['--slices', `${k0}:${k1}`, '--islands', 'keep'];
    cli('propose', restored, '--out', outRestored, '--seed', '0', ...slab);
    const kept = JSON.parse(readFileSync(join(outRestored, 'report.json'), 'utf8')) as CaseReport;
    expect(kept.settings.islands).toBe('keep');
    expect((kept.warnings ?? []).join('\n')).toMatch(
      /t1c \(t1c\.nii\.gz\): \d+ voxels \([\d.]+%\) are NaN.*read as background/,
    );
    expect(kept.droppedIslands).toBeUndefined();
    const r = JSON.parse(
      cli(
        'evaluate',
        '--pred',
        join(outRestored, 'mask.nii.gz'),
        '--truth',
        join(out, 'restored-seg.nii.gz'),
      ),
    );
    // measured with 9.1.1 on the whole volume: 0.909 as stored and 16-bit, reversed or padded alike
    // (robustness.py, README); a storage change may move a voxel's resampling, never the lesion
    console.log(
      `Dice as stored ${storedDice.toFixed(3)}, re-stored (slices ${k0}-${k1}) ${r.dice.toFixed(3)}`,
    );
    expect(r.dice).toBeGreaterThanOrEqual(storedDice - 0.02);
  }, 240_000);
});

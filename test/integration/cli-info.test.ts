/**
 * `quorum info <file-or-folder>` as a user runs it (node bin/quorum.mjs), checked against
 * nibabel (NIfTI) and dcm2niix's reference output (DICOM folder).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Geometry } from '../../core/src/geometry.ts';
import { affineFromVolume, voxelToWorld, worldToVoxel } from '../../core/src/geometry.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import type { Vec3 } from '../../core/src/volume.ts';
import { quorum } from '../helpers/cli.ts';
import { DATA, PAT3, PYTHON, REPO } from '../helpers/paths.ts';

describe('quorum info', () => {
  it('a NIfTI file: dims, geometry (LPS), datatype, range and sequence as nibabel sees them', () => {
    const file = join(PAT3, 'Flair_subtrMeanDivStd.nii.gz');
    const r = quorum('info', file);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    const nib = JSON.parse(
      execFileSync(PYTHON, [join(__dirname, '..', 'helpers', 'nibabel_ref.py'), file], { encoding: 'utf8' }),
    )[file];
    expect(info.file).toBe(file);
    expect(info.format).toBe('nifti');
    expect(info.coordinates).toBe('LPS');
    expect(info.dims).toEqual(nib.shape);
    // spacing/origin/direction reproduce nibabel's RAS affine
    const aff = affineFromVolume(info);
    for (const [i, v] of nib.affine.entries()) expect(Math.abs(aff[i] - v)).toBeLessThan(1e-5);
    expect(info.datatype).toBe('float32');
    expect(info.range[0]).toBeCloseTo(nib.min, 5);
    expect(info.range[1]).toBeCloseTo(nib.max, 5);
    expect(info.sequence).toBe('flair');
    expect(info.warnings).toEqual([]);
  });

  it('a DICOM folder: its series with slices and time points as dcm2niix wrote them', () => {
    const dir = join(DATA, 'dicom', 'dcm_qa_nih', 'In', '20180918GE', 'mr_0004');
    const r = quorum('info', dir);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.folder).toBe(dir);
    expect(info.series).toHaveLength(1);
    const s = info.series[0];
    const refNii = join(DATA, 'dicom', 'dcm_qa_nih', 'Ref', 'DCM2NIIX_regression_test_4.nii');
    const ref = JSON.parse(readFileSync(refNii.replace(/\.nii$/, '.json'), 'utf8'));
    const hdr = readFileSync(refNii);
    const refDims = [0, 1, 2, 3].map((i) => hdr.readInt16LE(42 + 2 * i));
    expect(s.seriesDescription).toBe(ref.SeriesDescription);
    expect(s.modality).toBe(ref.Modality);
    expect([s.columns, s.rows, s.slices, s.volumes]).toEqual(refDims);
    expect(s.files).toHaveLength(refDims[2] * refDims[3]);
    expect(s.transferSyntaxUID).toBe('1.2.840.10008.1.2.1');
    expect(s.problem).toBeUndefined();
    expect(s.role).toBe('other');
    expect(s.sequenceReason).toMatch(/"epi"\): a sequence the model does not use/);
  });

  it('a DICOM folder: per series dims, spacing, origin and direction on the grid dcm2niix wrote', async () => {
    // dcm2niix stores rows bottom-up (j flipped), so the grids are compared through world space:
    // our 8 corner voxels must land exactly on the reference's 8 corner voxels.
    // the reference of a series: the Ref/*.nii whose dcm2niix sidecar names its SeriesDescription
    const refOf = (refDir: string, description: string) => {
      const json = readdirSync(refDir).find(
        (f) =>
          f.endsWith('.json') &&
          JSON.parse(readFileSync(join(refDir, f), 'utf8')).SeriesDescription === description,
      );
      return join(refDir, (json ?? 'missing.json').replace(/\.json$/, '.nii'));
    };
    let compared = 0;
    for (const study of ['dcm_qa_nih', 'dcm_qa_ts']) {
      const r = quorum('info', join(DATA, 'dicom', study, 'In'));
      expect(r.code, r.stderr).toBe(0);
      for (const s of JSON.parse(r.stdout).series as (Geometry & { seriesDescription: string })[]) {
        const ref = await loadVolume(refOf(join(DATA, 'dicom', study, 'Ref'), s.seriesDescription));
        expect(s.dims, s.seriesDescription).toEqual(ref.dims);
        for (let a = 0; a < 3; a++) expect(s.spacing[a]).toBeCloseTo(ref.spacing[a], 4);
        const corners = (g: Geometry) =>
          [0, 1, 2, 3, 4, 5, 6, 7].map((c) => [0, 1, 2].map((a) => ((c >> a) & 1) * (g.dims[a] - 1)) as Vec3);
        const refCorners = new Set(corners(ref).map((c) => c.join(',')));
        for (const c of corners(s)) {
          const f = worldToVoxel(ref, voxelToWorld(s, c));
          const rounded = f.map(Math.round);
          for (let a = 0; a < 3; a++) expect(Math.abs(f[a] - rounded[a])).toBeLessThan(1e-3);
          expect(refCorners.has(rounded.join(',')), `${s.seriesDescription}: corner ${c} -> ${f}`).toBe(true);
        }
        compared++;
      }
    }
    expect(compared).toBe(6); // 5 NIH series (GE EPI, 4 Siemens mosaics) + the dcm_qa_ts mosaic
  });

  it("a model folder: its name, version and model card as the app's About the model shows them", () => {
    const dir = join(REPO, 'models', 'quorum-wt-v2');
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const r = quorum('info', dir);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect([info.name, info.version, info.lowConfidenceBelow]).toEqual([
      m.name,
      m.version,
      m.caseConfidence.lowBelow,
    ]);
    expect(info.card).toEqual(m.card);
    // v1 has no card: said, not left out silently
    const v1 = JSON.parse(quorum('info', join(REPO, 'models', 'quorum-wt-2ch')).stdout);
    expect(v1.card).toBeNull();
    expect(v1.note).toMatch(/no model card/);
  });

  it('not-nifti.nii: a one-line error naming the file, exit code 1, nothing on stdout', () => {
    const file = join(DATA, 'nifti', 'nifti-reader-js', 'not-nifti.nii');
    const r = quorum('info', file);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(`quorum info: ${file}: not a NIfTI-1/NIfTI-2 file (no valid header magic)`);
  });

  it('a missing path and a missing argument fail with non-zero exit codes', () => {
    const missing = join(DATA, 'no-such-file.nii.gz');
    const r = quorum('info', missing);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${missing}: no such file or folder`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace for user errors
    const u = quorum('info');
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/usage: quorum info/);
  });
});

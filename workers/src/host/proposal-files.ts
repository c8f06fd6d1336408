import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SliceResult, VolumeGeometry } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { uncertaintyScore } from '../../../core/src/metrics.ts';
import { loadVolume } from '../../../core/src/node/load.ts';
import type { Volume } from '../../../core/src/volume.ts';
import { type CaseReport, REPORT_FILE } from '../case-report.ts';
import { ProposalMaps } from '../exports/proposal-maps.ts';
import type { OpenCase } from './propose-run.ts';

/**
 * A proposal folder (written by workers/src/propose-case.ts: `quorum propose`, `propose-dataset`
 * and the pre-labelling queue) read back as per-slice results on a case's grid, for
 * QuorumApi.loadProposal. Every problem is a QuorumError naming the file.
 */
export const MASK_FILE = 'mask.nii.gz';
export const UNCERTAINTY_FILE = 'uncertainty.nii.gz';

async function readOne(path: string, geometry: VolumeGeometry): Promise<Volume> {
  if (!existsSync(path)) throw new QuorumError('not-found', 'the proposal file is missing', path);
  let v: Volume;
  try {
    v = await loadVolume(path);
  } catch (e) {
    if (e instanceof QuorumError) throw e;
    throw new QuorumError('corrupt', `unreadable proposal file (${(e as Error).message})`, path);
  }
  const want = geometry.dims;
  if (v.dims.some((d, i) => d !== want[i]))
    throw new QuorumError(
      'bad-argument',
      `the proposal is ${v.dims.join('x')} voxels but the open case is ${want.join('x')}: it belongs to another case`,
      path,
    );
  return v;
}

function readReport(path: string): CaseReport {
  if (!existsSync(path))
    throw new QuorumError('not-found', 'the proposal has no report (it is incomplete)', path);
  let r: CaseReport;
  try {
    r = JSON.parse(readFileSync(path, 'utf8')) as CaseReport;
  } catch (e) {
    throw new QuorumError('corrupt', `unreadable proposal report (${(e as Error).message})`, path);
  }
  if (!r || typeof r !== 'object' || Array.isArray(r))
    throw new QuorumError('corrupt', 'the proposal report is not a JSON object', path);
  return r;
}

/**
 * Reads `dir`'s mask, uncertainty and report; returns the slices with a mask voxel or a non-zero
 * std, sorted by k. Score: the report's slice uncertainty when it lists the slice, else the
 * engine's formula (core/src/metrics.ts uncertaintyScore: sum of std x pixel area).
 */
export async function readProposalDir(dir: string, geometry: VolumeGeometry): Promise<SliceResult[]> {
  const root = resolve(dir);
  const reportPath = join(root, REPORT_FILE);
  const report = readReport(reportPath);
  const maskPath = join(root, MASK_FILE);
  const stdPath = join(root, UNCERTAINTY_FILE);
  const maskVol = await readOne(maskPath, geometry);
  const stdVol = await readOne(stdPath, geometry);
  const [nx, ny, nz] = geometry.dims;
  const plane = nx * ny;
  const std = stdVol.data;
  for (let i = 0; i < std.length; i++)
    if (!(std[i] >= 0) || std[i] === Number.POSITIVE_INFINITY)
      throw new QuorumError('corrupt', `the uncertainty map holds an invalid std (${std[i]})`, stdPath);
  const scores = new Map<number, number>();
  if (Array.isArray(report.slices))
    for (const s of report.slices)
      if (s && Number.isInteger(s.k) && Number.isFinite(s.uncertainty)) scores.set(s.k, s.uncertainty);
  const members = report.settings?.members;
  const memberCount = Number.isInteger(members) && members > 0 ? members : 0;
  const pixelArea = geometry.spacing[0] * geometry.spacing[1];
  const out: SliceResult[] = [];
  for (let k = 0; k < nz; k++) {
    const off = k * plane;
    let any = false;
    for (let i = off; i < off + plane && !any; i++) any = maskVol.data[i] !== 0 || std[i] !== 0;
    if (!any) continue;
    const mask = new Uint8Array(plane);
    const mean = new Float32Array(plane);
    const s = new Float32Array(plane);
    for (let i = 0; i < plane; i++) {
      const m = maskVol.data[off + i] !== 0 ? 1 : 0;
      mask[i] = m;
      mean[i] = m;
      s[i] = std[off + i];
    }
    out.push({
      k,
      width: nx,
      height: ny,
      mean,
      mask,
      std: s,
      memberCount,
      score: scores.get(k) ?? uncertaintyScore(s, pixelArea),
    });
  }
  return out;
}

/** A pre-labelled case's proposal folder, read into an open case: its slices, for the renderer. */
export async function loadProposalInto(c: OpenCase, proposalDir: string): Promise<SliceResult[]> {
  if (typeof proposalDir !== 'string' || !proposalDir)
    throw new QuorumError('bad-argument', 'no proposal folder given');
  const results = await readProposalDir(proposalDir, c.info.geometry);
  c.maps = await ProposalMaps.read(proposalDir, c.info.geometry.dims);
  // Kept host-side like a streamed proposal, so an export has the uncertainty map.
  const [nx, ny, nz] = c.info.geometry.dims;
  for (const r of results) {
    c.uncertainty ??= new Float32Array(nx * ny * nz);
    c.uncertainty.set(r.std, r.k * nx * ny);
    c.proposed.add(r.k);
  }
  return results;
}

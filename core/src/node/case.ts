import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { QuorumError } from '../errors.ts';
import { sameGrid } from '../geometry.ts';
import { detectSequence, isBrainMaskFile, isLabelFile } from '../sequence.ts';
import type { SequenceName, Volume } from '../volume.ts';
import { loadVolume } from './load.ts';

/** One patient examination: co-registered sequences on one grid, and an expert label if present. */
export interface Case {
  id: string;
  root: string;
  sequences: Partial<Record<SequenceName, Volume>>;
  label?: Volume;
  labelPath?: string;
  warnings: string[];
}

export type CaseInput = string | Partial<Record<'flair' | 't1' | 't1c' | 't2', string>>;

const NIFTI = /\.(nii|nii\.gz|hdr|hdr\.gz)$/i;

/**
 * Opens a case: a folder of NIfTI sequences named by BraTS conventions (label files such as *seg*,
 * OTMultiClass*, *label* become `label`; brain masks are ignored), a DICOM study folder (one series
 * per sequence, recognised from SeriesDescription), a single file, or explicit files per sequence.
 * All volumes must share one grid, or the error names the ones that differ.
 */
export async function openCase(input: CaseInput): Promise<Case> {
  if (typeof input !== 'string')
    return fromEntries(Object.entries(input) as [SequenceName, string][], 'case');
  const root = resolve(input);
  if (!existsSync(root)) throw new QuorumError('not-found', 'no such file or folder', input);
  if (!statSync(root).isDirectory()) {
    const seq = detectSequence(basename(root));
    return fromEntries(
      [[seq === 'unknown' ? 'flair' : seq, root]],
      root,
      seq === 'unknown' ? [`${basename(root)}: sequence not recognised from the name, assumed FLAIR`] : [],
    );
  }
  const files = readdirSync(root)
    .filter((f) => NIFTI.test(f))
    .sort();
  if (files.length) {
    const entries: [SequenceName | 'label', string][] = [];
    const warnings: string[] = [];
    for (const f of files) {
      if (isBrainMaskFile(f)) continue;
      const seq = isLabelFile(f) ? 'label' : detectSequence(f);
      if (seq === 'unknown')
        warnings.push(`${f}: sequence not recognised from the name, skipped (assign it explicitly)`);
      else entries.push([seq, join(root, f)]);
    }
    return fromEntries(entries, root, warnings);
  }
  return fromDicom(root);
}

async function fromDicom(root: string): Promise<Case> {
  const { scanDicom, loadDicomSeries } = await import('./dicom-fs.ts');
  const series = await scanDicom(root);
  if (!series.length)
    throw new QuorumError('missing-sequence', 'no NIfTI files and no DICOM series in this folder', root);
  const c: Case = { id: basename(root), root, sequences: {}, warnings: [] };
  for (const s of series) {
    if (s.sequence === 'unknown') {
      c.warnings.push(
        `series "${s.seriesDescription}" (${s.seriesInstanceUID}): sequence not recognised, skipped`,
      );
      continue;
    }
    if (c.sequences[s.sequence]) {
      c.warnings.push(`series "${s.seriesDescription}": a second ${s.sequence} series, skipped`);
      continue;
    }
    c.sequences[s.sequence] = await loadDicomSeries(s.files, s.seriesInstanceUID);
  }
  return checkGrid(c);
}

async function fromEntries(
  entries: [SequenceName | 'label', string][],
  root: string,
  warnings: string[] = [],
): Promise<Case> {
  const c: Case = { id: basename(root), root, sequences: {}, warnings };
  for (const [seq, file] of entries) {
    if (seq !== 'label' && c.sequences[seq]) {
      throw new QuorumError(
        'inconsistent-series',
        `two files look like ${seq}: ${basename(c.sequences[seq]!.source.path)} and ${basename(file)}; name one explicitly`,
        root,
      );
    }
    const v = await loadVolume(file);
    if (seq === 'label') {
      c.label = v;
      c.labelPath = file;
    } else {
      v.source.sequence = seq;
      c.sequences[seq] = v;
    }
  }
  return checkGrid(c);
}

function checkGrid(c: Case): Case {
  const vols = Object.values(c.sequences) as Volume[];
  if (!vols.length) throw new QuorumError('missing-sequence', 'no MRI sequence found', c.root);
  for (const v of [...vols.slice(1), ...(c.label ? [c.label] : [])]) {
    if (!sameGrid(vols[0], v)) {
      throw new QuorumError(
        'inconsistent-series',
        `${basename(v.source.path)} (${v.dims.join('x')}) is not on the grid of ${basename(vols[0].source.path)} (${vols[0].dims.join('x')}); register/resample them first`,
        c.root,
      );
    }
  }
  return c;
}

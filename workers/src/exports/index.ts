import { lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ExportFormatInfo, ExportResult } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import type { ExportFormat } from '../../../core/src/lists.ts';
import { Registry } from '../../../core/src/registry.ts';
import { dicomSeg } from './dicom-seg.ts';
import { niftiMask, segmentsSidecarPath } from './nifti-mask.ts';
import { niftiMembers } from './nifti-members.ts';
import { niftiProbability } from './nifti-probability.ts';
import { niftiUncertainty } from './nifti-uncertainty.ts';
import { reportCsvWriter, reportJson } from './report.ts';
import { slicerSeg } from './slicer-seg.ts';
import type { ExportInput, ExportWriter } from './writer.ts';

export type { ExportInput, ExportWriter } from './writer.ts';

/**
 * The export writers by format. A new format: its name in EXPORT_FORMATS (core/src/lists.ts), its
 * writer in a file of this folder and one line below; the CLI (--export), pre-labelling and the
 * renderer's export dialog (AppInfo.exportFormats) take it from here.
 */
export const EXPORT_WRITERS = new Registry<ExportFormat, ExportWriter>('export format', {
  'nifti-mask': niftiMask,
  'nifti-uncertainty': niftiUncertainty,
  'nifti-probability': niftiProbability,
  'nifti-members': niftiMembers,
  'dicom-seg': dicomSeg,
  'slicer-seg': slicerSeg,
  'report-json': reportJson,
  'report-csv': reportCsvWriter,
});

/** For the export dialog (AppInfo.exportFormats), in registry order. */
export function exportFormatInfo(): ExportFormatInfo[] {
  return EXPORT_WRITERS.names.map((f) => {
    const { format, label, needs, byDefault, inProposals } = EXPORT_WRITERS.get(f);
    return { format, label, needs, byDefault, inProposals };
  });
}

/** The formats proposal folders can hold (CLI --export, pre-labelling). */
export const PROPOSAL_FORMATS = EXPORT_WRITERS.names.filter((f) => EXPORT_WRITERS.get(f).inProposals);

/** The path of `format` for file stem `base` in `dir` (an empty stem: the proposal folder's names). */
export function exportPath(dir: string, base: string, format: ExportFormat): string {
  const suffix = EXPORT_WRITERS.get(format).suffix;
  return join(dir, base ? base + suffix : suffix.replace(/^[_.]/, ''));
}

/**
 * The first of `base`, `base-2`, `base-3`, ... for which no output of `formats` exists in `dir`:
 * what an export from the app is named, so it never replaces a file (an earlier export included)
 * and the files of one export keep one stem.
 */
export function freeStem(dir: string, base: string, formats: readonly ExportFormat[]): string {
  const taken = (p: string) => {
    try {
      lstatSync(p);
      return true;
    } catch {
      return false;
    }
  };
  for (let k = 1; k < 10000; k++) {
    const stem = k === 1 ? base : `${base}-${k}`;
    const paths = formats.map((f) => exportPath(dir, stem, f));
    if (formats.includes('nifti-mask')) paths.push(segmentsSidecarPath(exportPath(dir, stem, 'nifti-mask')));
    if (!paths.some(taken)) return stem;
  }
  throw new QuorumError('bad-argument', `no free file name for ${base} (9999 exports there already)`, dir);
}

/**
 * Writes `formats` into `dir` with file stem `base`; existing files are replaced only as
 * `input.replace` allows (never, by default). A format that cannot be written for this
 * input is skipped with its reason in `warnings`. Returns the path per format (a folder for
 * nifti-members) and every file written.
 */
export function writeFormats(
  input: ExportInput,
  formats: readonly ExportFormat[],
  dir: string,
  base: string,
): { files: ExportResult['files']; written: string[]; warnings: string[] } {
  if (!formats.length) throw new QuorumError('bad-argument', 'no export format chosen');
  const writers = formats.map((f) => EXPORT_WRITERS.get(f)); // every name checked before anything is written
  mkdirSync(dir, { recursive: true });
  const out = { files: {} as ExportResult['files'], written: [] as string[], warnings: [] as string[] };
  for (const writer of writers) {
    const format = writer.format;
    const ok = writer.canExport(input);
    if (ok !== true) {
      out.warnings.push(ok);
      continue;
    }
    const path = exportPath(dir, base, format);
    out.written.push(...writer.write(input, path));
    out.files[format] = path;
  }
  return out;
}

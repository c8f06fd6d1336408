import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CaseInfo, ExportFormat, ExportRequest, ExportResult } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { buildDicomSeg } from '../../../core/src/export/dicom-seg.ts';
import { lesionReport, reportCsv } from '../../../core/src/export/report.ts';
import type { ModelManifest } from '../../../core/src/manifest.ts';
import { assertNotSource, writeFileAtomic } from '../../../core/src/node/atomic.ts';
import { writeNiftiFile } from '../../../core/src/node/load.ts';
import { type LoadedCase, referenceVolume } from './cases.ts';

const SUFFIX: Record<ExportFormat, string> = {
  'nifti-mask': '_mask.nii.gz',
  'nifti-uncertainty': '_uncertainty.nii.gz',
  'dicom-seg': '_seg.dcm',
  'report-json': '_report.json',
  'report-csv': '_report.csv',
};

/**
 * Writes the requested exports into `dir`, each atomically, none over a case input. Derived
 * volumes take the reference sequence's exact grid and NIfTI transform codes, so they overlay
 * the source in any viewer.
 */
export function writeExports(
  c: LoadedCase,
  info: CaseInfo,
  req: ExportRequest,
  dir: string,
  manifest?: ModelManifest,
): ExportResult {
  const ref = referenceVolume(c, manifest?.channels);
  const n = ref.dims[0] * ref.dims[1] * ref.dims[2];
  if (!(req.mask instanceof Uint8Array) || req.mask.length !== n)
    throw new QuorumError('bad-argument', `the mask has ${req.mask?.length} voxels, the case ${n}`);
  if (req.uncertainty && req.uncertainty.length !== n)
    throw new QuorumError(
      'bad-argument',
      `the uncertainty map has ${req.uncertainty.length} voxels, the case ${n}`,
    );
  if (!req.formats.length) throw new QuorumError('bad-argument', 'no export format chosen');
  const base = (req.baseName ?? `${info.name}_quorum`).replace(/[\\/:*?"<>|]/g, '_');
  const sources = [
    ...Object.values(c.sequences).map((v) => v?.source.path ?? ''),
    ...(c.labelPath ? [c.labelPath] : []),
  ].filter(Boolean);
  mkdirSync(dir, { recursive: true });
  const result: ExportResult = {
    files: {},
    warnings: [],
    report: lesionReport({
      caseName: info.name,
      caseRoot: info.root,
      geometry: info.geometry,
      mask: req.mask,
      uncertainty: req.uncertainty,
      slicesEdited: req.editedSlices,
      slicesProposed: req.proposedSlices,
      model: manifest ? { name: manifest.name, version: manifest.version } : undefined,
    }),
  };
  // Labelmaps may carry label values > 1 (segment numbers); NIfTI keeps them as they are.
  for (const format of req.formats) {
    const path = join(dir, base + SUFFIX[format]);
    assertNotSource(path, sources);
    if (format === 'nifti-mask') {
      writeNiftiFile(
        path,
        { ...ref, data: req.mask },
        { datatype: 'uint8', description: 'Quorum lesion mask' },
      );
    } else if (format === 'nifti-uncertainty') {
      if (!req.uncertainty) {
        result.warnings.push('no uncertainty map to export (run a proposal first)');
        continue;
      }
      writeNiftiFile(
        path,
        { ...ref, data: req.uncertainty },
        { datatype: 'float32', description: 'Quorum uncertainty (std over members)' },
      );
    } else if (format === 'dicom-seg') {
      if (!info.canExportDicomSeg) {
        result.warnings.push('DICOM SEG needs a DICOM source series; this case is NIfTI');
        continue;
      }
      const bytes = buildDicomSeg(ref, req.mask, {
        seriesDescription: 'Quorum lesion segmentation',
        algorithm: manifest ? `${manifest.name} ${manifest.version}` : 'Quorum',
      });
      writeFileAtomic(path, bytes);
    } else if (format === 'report-json') {
      writeFileAtomic(path, `${JSON.stringify(result.report, null, 2)}\n`);
    } else if (format === 'report-csv') {
      writeFileAtomic(path, reportCsv(result.report));
    } else throw new QuorumError('bad-argument', `unknown export format ${String(format)}`);
    result.files[format] = path;
  }
  return result;
}

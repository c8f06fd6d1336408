import type { CaseInfo, ExportRequest, ExportResult } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { lesionReport } from '../../../core/src/export/report.ts';
import { safeFileName } from '../../../core/src/file-name.ts';
import type { ModelManifest } from '../../../core/src/manifest.ts';
import { type ExportInput, freeStem, writeFormats } from '../exports/index.ts';
import { type LoadedCase, referenceVolume } from './cases.ts';

/**
 * Writes the requested exports into `dir`, each atomically, none over an existing file: the stem
 * (cleaned of separators, `..`, control characters) is numbered (`<case>_quorum-2_mask.nii.gz`)
 * when a file of that name is there (an earlier export, a case file). Derived
 * volumes take the reference sequence's exact grid and NIfTI transform codes, so they overlay
 * the source in any viewer.
 */
export function writeExports(
  c: LoadedCase,
  info: CaseInfo,
  req: ExportRequest,
  dir: string,
  manifest?: ModelManifest,
  maps: Pick<ExportInput, 'probability' | 'members'> = {},
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
  const base = freeStem(dir, safeFileName(req.baseName ?? `${info.name}_quorum`), req.formats);
  const sources = [
    ...Object.values(c.sequences).map((v) => v?.source.path ?? ''),
    ...(c.labelPath ? [c.labelPath] : []),
  ].filter(Boolean);
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
  const written = writeFormats(
    {
      reference: ref,
      mask: req.mask,
      uncertainty: req.uncertainty,
      probability: maps.probability,
      members: maps.members,
      report: result.report,
      canExportDicomSeg: info.canExportDicomSeg,
      manifest,
      sources,
    },
    req.formats,
    dir,
    base,
  );
  result.files = written.files;
  result.warnings.push(...written.warnings);
  return result;
}

import { join, resolve } from 'node:path';
import type { CaseInfo, ExportRequest, ExportResult } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { lesionReport } from '../../../core/src/export/report.ts';
import { safeFileName } from '../../../core/src/file-name.ts';
import type { ModelManifest } from '../../../core/src/manifest.ts';
import { checkSegmentTable, type SegmentInfo } from '../../../core/src/segments.ts';
import { type ExportInput, freeStem, writeFormats } from '../exports/index.ts';
import { type LoadedCase, referenceVolume } from './cases.ts';
import type { OpenCase } from './propose-run.ts';

/**
 * Exports an open case: into the request's folder, or (none named) the one the user chooses
 * (Electron's dialog) or `<outDir>/<case name>`; with the host's uncertainty map and proposed
 * slices when the request has none of its own.
 */
export async function exportOpenCase(
  c: OpenCase,
  req: ExportRequest,
  where: { outDir: string; chooseExportDir?: (suggested: string) => Promise<string | null> },
  manifest?: ModelManifest,
): Promise<ExportResult> {
  let dir = req.targetDir;
  if (!dir) {
    // The case name may come from a header (DICOM PatientName): one clean folder name.
    const suggested = join(where.outDir, safeFileName(c.info.name));
    dir = where.chooseExportDir ? ((await where.chooseExportDir(suggested)) ?? undefined) : suggested;
    if (!dir) throw new QuorumError('cancelled', 'export cancelled');
  }
  const withHostMaps: ExportRequest = {
    ...req,
    uncertainty: req.uncertainty ?? c.uncertainty,
    proposedSlices: req.proposedSlices ?? [...c.proposed],
  };
  return writeExports(c.data, c.info, withHostMaps, resolve(dir), manifest, c.maps?.forExport());
}

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
  const segments = req.segments === undefined ? undefined : checkExportSegments(req.segments, req.mask);
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
      segments,
    }),
  };
  const written = writeFormats(
    {
      reference: ref,
      mask: req.mask,
      segments,
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

/** The request's segment table, checked: well formed, and naming every label value the mask holds. */
function checkExportSegments(table: unknown, mask: Uint8Array): SegmentInfo[] {
  const segments = checkSegmentTable(table);
  if (typeof segments === 'string') throw new QuorumError('bad-argument', `export: ${segments}`);
  const named = new Set(segments.map((s) => s.value));
  const seen = new Uint8Array(256);
  for (let i = 0; i < mask.length; i++) seen[mask[i]] = 1;
  for (let v = 1; v < 256; v++)
    if (seen[v] && !named.has(v))
      throw new QuorumError(
        'bad-argument',
        `export: the mask holds label value ${v}, which no segment names`,
      );
  return segments;
}

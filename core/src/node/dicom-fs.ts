import { lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expandFrames } from '../dicom/frames.ts';
import { type DicomImage, parseDicom } from '../dicom/parse.ts';
import {
  groupSeries,
  layoutSeries,
  seriesEvidence,
  seriesGeometry,
  seriesToVolume,
} from '../dicom/series.ts';
import { QuorumError } from '../errors.ts';
import { classifySeries, type SeriesRole } from '../sequence.ts';
import { geometryWarnings } from '../unusual.ts';
import type { Mat3, SequenceName, Vec3, Volume } from '../volume.ts';
import { NODE_CODECS } from './dicom-codecs.ts';

export interface DicomSeriesInfo {
  seriesInstanceUID: string;
  seriesDescription: string;
  protocolName: string;
  seriesNumber: number;
  manufacturer: string;
  imageType: string;
  sequence: SequenceName;
  /** What the series is to Quorum (a sequence, a localiser, derived ...) and why. */
  role: SeriesRole;
  sequenceReason: string;
  modality: string;
  files: string[];
  rows: number;
  columns: number;
  slices: number;
  volumes: number;
  transferSyntaxUID: string;
  /** The grid it loads onto (LPS, as `quorum info` on a NIfTI), when it can be placed in 3-D. */
  dims?: Vec3;
  spacing?: Vec3;
  origin?: Vec3;
  direction?: Mat3;
  /** SliceThickness (mm) of its first image; 0 when absent. */
  sliceThickness: number;
  /** What is unusual about it (thick or gapped slices, non-axial, oblique, flipped, small field of view). */
  warnings: string[];
  /** Why the series cannot be loaded, if it cannot. */
  problem?: string;
}

/**
 * Every file under a folder, walked with lstat: a symlinked file or folder is followed to its real
 * path, and a folder reached twice (a symlink loop, or two links to one folder) stops the scan
 * with a message naming the link, instead of recursing until the stack or path length gives out.
 */
function listFiles(pathOrFiles: string | string[]): string[] {
  if (Array.isArray(pathOrFiles)) return pathOrFiles.map((f) => resolve(f));
  const root = resolve(pathOrFiles);
  const out: string[] = [];
  const visited = new Set<string>();
  const walk = (dir: string, real: string) => {
    visited.add(real);
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      let st = lstatSync(p);
      let target = join(real, name);
      if (st.isSymbolicLink()) {
        try {
          target = realpathSync(p);
          st = statSync(target);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ELOOP')
            throw new QuorumError('bad-argument', 'this symbolic link points to itself (a symlink loop)', p);
          continue; // a dangling link: nothing to read
        }
      }
      if (st.isDirectory()) {
        if (visited.has(target))
          throw new QuorumError(
            'bad-argument',
            `this symbolic link leads back to ${target}, a folder already scanned (a symlink loop, or a second link to one folder): remove the link or open a folder below it`,
            p,
          );
        walk(p, target);
      } else if (st.isFile()) out.push(p);
    }
  };
  if (statSync(root).isDirectory()) walk(root, realpathSync(root));
  else out.push(root);
  return out;
}

/** Parses every file; non-DICOM files in a folder are skipped (and counted), broken DICOM is reported. */
function readImages(pathOrFiles: string | string[]): { images: DicomImage[]; skipped: string[] } {
  const images: DicomImage[] = [];
  const skipped: string[] = [];
  const explicit = Array.isArray(pathOrFiles);
  for (const f of listFiles(pathOrFiles)) {
    try {
      images.push(...expandFrames(parseDicom(readFileSync(f), f)));
    } catch (e) {
      if (e instanceof QuorumError && (e.code === 'not-dicom' || (!explicit && e.code === 'unsupported')))
        skipped.push(f);
      else throw e;
    }
  }
  return { images, skipped };
}

export async function scanDicom(pathOrFiles: string | string[]): Promise<DicomSeriesInfo[]> {
  const { images } = readImages(pathOrFiles);
  return groupSeries(images).map((g) => {
    const f = g[0];
    let slices = g.length;
    let volumes = 1;
    let problem: string | undefined;
    let geometry: Pick<DicomSeriesInfo, 'dims' | 'spacing' | 'origin' | 'direction'> = {};
    const warnings: string[] = [];
    try {
      const l = layoutSeries(g);
      slices = l.slices.length;
      volumes = l.volumes;
      const grid = seriesGeometry(g);
      geometry = grid;
      warnings.push(...l.warnings, ...geometryWarnings(grid, f.sliceThickness));
    } catch (e) {
      problem = (e as Error).message;
    }
    const decision = classifySeries(seriesEvidence(f));
    return {
      seriesInstanceUID: f.seriesInstanceUID,
      seriesDescription: f.seriesDescription,
      protocolName: f.protocolName,
      seriesNumber: f.seriesNumber,
      manufacturer: f.manufacturer,
      imageType: f.imageType,
      sequence: decision.sequence,
      role: decision.role,
      sequenceReason: decision.reason,
      modality: f.modality,
      files: [...new Set(g.map((im) => im.file))], // the frames of an enhanced file share it
      rows: f.rows,
      columns: f.columns,
      slices,
      volumes,
      transferSyntaxUID: f.transferSyntaxUID,
      ...geometry,
      sliceThickness: f.sliceThickness,
      warnings,
      problem,
    };
  });
}

export async function loadDicomSeries(
  pathOrFiles: string | string[],
  seriesInstanceUID?: string,
): Promise<Volume> {
  const where = Array.isArray(pathOrFiles) ? (pathOrFiles[0] ?? '(no files)') : pathOrFiles;
  const { images, skipped } = readImages(pathOrFiles);
  const groups = groupSeries(images);
  if (!groups.length)
    throw new QuorumError(
      'not-dicom',
      `no DICOM images found${skipped.length ? ` (${skipped.length} other files skipped)` : ''}`,
      where,
    );
  let group = groups[0];
  if (seriesInstanceUID) {
    const g = groups.find((x) => x[0].seriesInstanceUID === seriesInstanceUID);
    if (!g) throw new QuorumError('not-found', `no series ${seriesInstanceUID} here`, where);
    group = g;
  } else if (groups.length > 1) {
    // the largest series, as a viewer would show first; callers choose with seriesInstanceUID
    group = [...groups].sort((a, b) => b.length - a.length)[0];
  }
  const vol = await seriesToVolume(
    group,
    NODE_CODECS,
    Array.isArray(pathOrFiles) ? group[0].file : resolve(pathOrFiles),
  );
  if (groups.length > 1 && !seriesInstanceUID)
    vol.source.warnings?.push(`${groups.length} series here; loaded "${group[0].seriesDescription}"`);
  return vol;
}

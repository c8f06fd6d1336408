import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type DicomImage, parseDicom } from '../dicom/parse.ts';
import { groupSeries, layoutSeries, seriesToVolume } from '../dicom/series.ts';
import { QuorumError } from '../errors.ts';
import { detectSequence } from '../sequence.ts';
import type { SequenceName, Volume } from '../volume.ts';
import { NODE_CODECS } from './dicom-codecs.ts';

export interface DicomSeriesInfo {
  seriesInstanceUID: string;
  seriesDescription: string;
  sequence: SequenceName;
  modality: string;
  files: string[];
  rows: number;
  columns: number;
  slices: number;
  volumes: number;
  transferSyntaxUID: string;
  /** Why the series cannot be loaded, if it cannot. */
  problem?: string;
}

function listFiles(pathOrFiles: string | string[]): string[] {
  if (Array.isArray(pathOrFiles)) return pathOrFiles.map((f) => resolve(f));
  const root = resolve(pathOrFiles);
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(p);
    }
  };
  if (statSync(root).isDirectory()) walk(root);
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
      images.push(parseDicom(readFileSync(f), f));
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
    try {
      const l = layoutSeries(g);
      slices = l.slices.length;
      volumes = l.volumes;
    } catch (e) {
      problem = (e as Error).message;
    }
    return {
      seriesInstanceUID: f.seriesInstanceUID,
      seriesDescription: f.seriesDescription,
      sequence: detectSequence('', f.seriesDescription),
      modality: f.modality,
      files: g.map((im) => im.file),
      rows: f.rows,
      columns: f.columns,
      slices,
      volumes,
      transferSyntaxUID: f.transferSyntaxUID,
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

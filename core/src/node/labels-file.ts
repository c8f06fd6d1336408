import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { QuorumError } from '../errors.ts';
import {
  type LabelsIn,
  labelsFromVolume,
  labelVolume,
  parseSegmentSidecar,
  readSegLabels,
  type SegmentSidecarEntry,
} from '../labels.ts';
import { nrrdKeyValues } from '../nrrd/read.ts';
import { mergeSlicerLayers, slicerSegments } from '../nrrd/segmentation.ts';
import { defaultSegment, type SegmentInfo } from '../segments.ts';
import type { Volume } from '../volume.ts';
import type { Case } from './case.ts';
import { head as firstBytes } from './channels.ts';
import { loadVolume } from './load.ts';

/** `<name>.segments.json` beside a label file `<name>.nii(.gz)`: names and colours of its values. */
export function sidecarFor(path: string): string {
  return join(
    dirname(path),
    `${basename(path).replace(/\.(nii|nii\.gz|hdr|hdr\.gz|img|img\.gz|nrrd|nhdr|mha|mhd)$/i, '')}.segments.json`,
  );
}

const isDicomBytes = (b: Uint8Array) =>
  b.length > 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;

/**
 * Reads a label file onto `ref`'s grid: a NIfTI label map (with its `.segments.json` sidecar if
 * there is one) or a DICOM SEG file (a folder holding exactly one SEG file also does).
 */
export async function readLabelsFile(path: string, ref: Volume): Promise<LabelsIn> {
  if (!existsSync(path)) throw new QuorumError('not-found', 'no such label file', path);
  let file = path;
  if (statSync(path).isDirectory()) {
    const dcm = readdirSync(path).filter((f) => !f.startsWith('.') && statSync(join(path, f)).isFile());
    if (dcm.length !== 1)
      throw new QuorumError(
        'bad-argument',
        `a label folder must hold exactly one DICOM SEG file (it holds ${dcm.length} files)`,
        path,
      );
    file = join(path, dcm[0]);
  }
  const head = readFileSync(file);
  if (isDicomBytes(head))
    return readSegLabels(new Uint8Array(head.buffer, head.byteOffset, head.byteLength), ref, file);
  const { volume, segments, warnings } = await loadLabelVolume(file, head);
  if (segments && volume.data.length === 1)
    // Slicer saves a segmentation whose segments are all empty as a single voxel, geometry meaningless
    return {
      labels: new Uint8Array(ref.data.length),
      segments: segments.map((s) => {
        const seg = defaultSegment(s.value, s.name);
        if (s.colour) seg.colour = [...s.colour];
        return seg;
      }),
      grid: 'an empty 3D Slicer segmentation (its segments, no voxels)',
      warnings,
    };
  const side = sidecarFor(file);
  const named =
    segments ?? (existsSync(side) ? parseSegmentSidecar(readFileSync(side, 'utf8'), side) : undefined);
  const l = labelsFromVolume(volume, ref, file, named);
  return { ...l, warnings: [...warnings, ...l.warnings] };
}

/**
 * A label map file as one volume: a 3D Slicer segmentation (.seg.nrrd) with its segment names from
 * the header and overlapping segments (layers) merged (core/src/nrrd/segmentation.ts), or any other
 * volume as loadVolume reads it (names, if any, are in a `.segments.json` readLabelsFile reads).
 */
export async function loadLabelVolume(
  file: string,
  bytes?: Uint8Array,
): Promise<{ volume: Volume; segments?: SegmentSidecarEntry[]; warnings: string[] }> {
  // the whole file only for a NRRD (its header): a case's seg.nii.gz is read once, by loadVolume
  const isNrrd = (b: Uint8Array) => String.fromCharCode(...b.subarray(0, 7)) === 'NRRD000';
  const head = bytes ?? (isNrrd(firstBytes(file, 7)) ? readFileSync(file) : undefined);
  const slicer = head && isNrrd(head) ? slicerSegments(nrrdKeyValues(head, file)) : undefined;
  if (slicer) {
    const layers = Math.max(...slicer.map((s) => s.layer)) + 1;
    const volumes: Volume[] = [];
    for (let l = 0; l < layers; l++) volumes.push(await loadVolume(file, { volume: l }));
    const merged = mergeSlicerLayers(volumes, slicer, file);
    return { volume: merged.volume, segments: merged.entries, warnings: merged.volume.source.warnings ?? [] };
  }
  return { volume: await loadVolume(file), warnings: [] };
}

/** What a case keeps of labels read in: their segments and how they reached its grid. */
export interface CaseLabelsIn {
  path: string;
  segments: SegmentInfo[];
  grid: string;
  /** Labelled voxels. */
  voxels: number;
}

/**
 * Makes a label file the case's label (getVolume('label'), the starting labelmap): read onto the
 * reference grid, replacing a label found in the case folder. Returns what the case info says.
 */
export async function applyLabelsFile(c: Case, path: string, ref: Volume): Promise<CaseLabelsIn> {
  const l = await readLabelsFile(path, ref);
  c.label = labelVolume(l, ref, path, l.grid.startsWith('DICOM SEG') ? 'dicom' : 'nifti');
  c.labelPath = path;
  for (const w of l.warnings) c.warnings.push(w);
  let voxels = 0;
  for (const v of l.labels) if (v) voxels++;
  return { path, segments: l.segments, grid: l.grid, voxels };
}

import { type Types, volumeLoader } from '@cornerstonejs/core';
import type { VolumeData, VolumeGeometry } from '../../../core/src/api.ts';

/**
 * Cornerstone volumes from the API's VolumeData. Geometry is LPS already (the host converts NIfTI's
 * RAS at the reader), and cornerstone's direction is the same 9-vector as core's Mat3: i axis,
 * j axis, k axis. createLocalVolume keeps each slice as a view onto the array we pass, so the
 * arrays we hold (labelmap, uncertainty) ARE the rendered data: write into them, then mark the
 * changed frames (markSlices) and render.
 */

let serial = 0;
const nextId = (kind: string) => `quorum-${kind}-${++serial}`;

export type Scalars = Float32Array | Uint8Array | Int16Array | Uint16Array;

function metadata(g: VolumeGeometry, frameOfReference: string, bits: number): Types.Metadata {
  return {
    BitsAllocated: bits,
    BitsStored: bits,
    SamplesPerPixel: 1,
    HighBit: bits - 1,
    PhotometricInterpretation: 'MONOCHROME2',
    PixelRepresentation: 1,
    Modality: 'MR',
    ImageOrientationPatient: g.direction.slice(0, 6),
    PixelSpacing: [g.spacing[1], g.spacing[0]],
    FrameOfReferenceUID: frameOfReference,
    Columns: g.dims[0],
    Rows: g.dims[1],
    voiLut: [],
    VOILUTFunction: 'LINEAR',
  };
}

function geometryOptions(g: VolumeGeometry) {
  return {
    dimensions: [...g.dims] as Types.Point3,
    spacing: [...g.spacing] as Types.Point3,
    origin: [...g.origin] as Types.Point3,
    direction: [...g.direction] as Types.Mat3,
  };
}

/** cornerstone's local volumes take Float32/Uint8/Int16/Uint16; Int32 becomes Float32. */
export function toScalars(v: VolumeData): Scalars {
  const d = v.data;
  if (d instanceof Int32Array) return Float32Array.from(d);
  return d;
}

export function createImageVolume(v: VolumeData, frameOfReference: string): Types.IImageVolume {
  const scalarData = toScalars(v);
  return volumeLoader.createLocalVolume(nextId(`img-${v.sequence}`), {
    metadata: metadata(v, frameOfReference, scalarData.BYTES_PER_ELEMENT * 8),
    ...geometryOptions(v),
    scalarData,
  });
}

export function createFloatOverlay(
  g: VolumeGeometry,
  frameOfReference: string,
  data: Float32Array,
  kind: string,
): Types.IImageVolume {
  return volumeLoader.createLocalVolume(nextId(kind), {
    metadata: metadata(g, frameOfReference, 32),
    ...geometryOptions(g),
    scalarData: data,
  });
}

export function createLabelmap(
  g: VolumeGeometry,
  frameOfReference: string,
  data: Uint8Array,
  referencedVolumeId: string,
): Types.IImageVolume {
  return volumeLoader.createLocalLabelmapVolume(
    {
      metadata: metadata(g, frameOfReference, 8),
      ...geometryOptions(g),
      scalarData: data,
      referencedVolumeId,
    },
    nextId('labelmap'),
  );
}

/** Tell the GPU texture which k-slices of a local volume changed (the data is already in place). */
export function markSlices(volume: Types.IImageVolume, slices: Iterable<number>): void {
  const tex = (volume as unknown as { vtkOpenGLTexture?: { setUpdatedFrame(k: number): void } })
    .vtkOpenGLTexture;
  for (const k of slices) tex?.setUpdatedFrame(k);
  volume.imageData?.modified();
}

import dcmjs from 'dcmjs';
import type { VolumeGeometry } from '../../core/src/api.ts';

/**
 * A binary DICOM SEG's voxels put back on a case grid, each frame placed by its own plane
 * position (not by the writer's frame order): what a PACS viewer does with it. Written for the
 * tests with dcmjs alone, independent of Quorum's SEG writer.
 */
export function segVoxels(
  bytes: Uint8Array,
  g: VolumeGeometry,
): { mask: Uint8Array; frames: number; study: string } {
  const { dict } = dcmjs.data.DicomMessage.readFile(bytes.slice().buffer);
  // biome-ignore lint/suspicious/noExplicitAny: a parsed DICOM dataset
  const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict) as Record<string, any>;
  const [nx, ny, nz] = g.dims;
  const normal = g.direction.slice(6, 9);
  const mask = new Uint8Array(nx * ny * nz);
  const pixels = new Uint8Array(Array.isArray(ds.PixelData) ? ds.PixelData[0] : ds.PixelData);
  const frames = [ds.PerFrameFunctionalGroupsSequence].flat();
  frames.forEach((f, fi) => {
    const ipp = [f.PlanePositionSequence].flat()[0].ImagePositionPatient.map(Number);
    const k = Math.round(normal.reduce((a, n, ax) => a + n * (ipp[ax] - g.origin[ax]), 0) / g.spacing[2]);
    for (let p = 0; p < nx * ny; p++) {
      const b = fi * nx * ny + p;
      mask[k * nx * ny + p] = (pixels[b >> 3] >> (b & 7)) & 1;
    }
  });
  return { mask, frames: frames.length, study: ds.StudyInstanceUID };
}

/** Voxels that differ between two masks. */
export function maskDiff(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n + Math.abs(a.length - b.length);
}

/** Asymmetric blobs on `slices`, different per slice: a flipped axis or a swapped frame would not match. */
export function blobMask(dims: [number, number, number] | number[], slices: number[]): Uint8Array {
  const [nx, ny, nz] = dims;
  const mask = new Uint8Array(nx * ny * nz);
  for (const k of slices)
    for (let j = 5 + k; j < 25 + k; j++)
      for (let i = 3; i < 3 + j - k; i++) mask[i + nx * j + nx * ny * k] = 1;
  return mask;
}

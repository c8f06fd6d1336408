/**
 * The segments of a labelmap: which voxel value means what, and how it is shown. Minimal shared
 * shape (the renderer's multi-segment editing builds on it); label files read in
 * (core/src/labels.ts) describe their values with it.
 */
export interface SegmentInfo {
  /** The labelmap value, 1..255 (0 is background). */
  value: number;
  name: string;
  /** sRGB, 0..255 each. */
  colour: [number, number, number];
  visible: boolean;
  locked: boolean;
}

/** Distinct colours for values without one of their own (value 1 red, as the lesion is drawn). */
const PALETTE: [number, number, number][] = [
  [255, 40, 40],
  [40, 200, 255],
  [255, 210, 40],
  [180, 90, 255],
  [255, 130, 30],
  [40, 255, 160],
  [255, 80, 200],
  [140, 200, 60],
];

export function defaultSegmentColour(value: number): [number, number, number] {
  return [...PALETTE[(value - 1 + PALETTE.length) % PALETTE.length]] as [number, number, number];
}

export function defaultSegment(value: number, name?: string): SegmentInfo {
  return {
    value,
    name: name ?? `Label ${value}`,
    colour: defaultSegmentColour(value),
    visible: true,
    locked: false,
  };
}

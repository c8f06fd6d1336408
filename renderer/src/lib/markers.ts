import type { Types } from '@cornerstonejs/core';
import { screenAxes } from './screen-axes.ts';

/** Orientation letters at a viewport's edges, from its camera (LPS: +x L, +y P, +z S). */
export interface Markers {
  left: string;
  right: string;
  top: string;
  bottom: string;
}

export const NO_MARKERS: Markers = { left: '', right: '', top: '', bottom: '' };

function letter(v: number[]): string {
  const names: [string, string][] = [
    ['L', 'R'],
    ['P', 'A'],
    ['S', 'I'],
  ];
  let axis = 0;
  for (let a = 1; a < 3; a++) if (Math.abs(v[a]) > Math.abs(v[axis])) axis = a;
  return v[axis] >= 0 ? names[axis][0] : names[axis][1];
}

export function markersFor(camera: Types.ICamera): Markers {
  const axes = screenAxes(camera);
  if (!axes) return NO_MARKERS;
  const neg = (v: number[]) => v.map((x) => -x);
  return {
    right: letter(axes.right),
    left: letter(neg(axes.right)),
    top: letter(neg(axes.down)),
    bottom: letter(axes.down),
  };
}

import type { Types } from '@cornerstonejs/core';

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
  const up = camera.viewUp;
  const n = camera.viewPlaneNormal;
  if (!up || !n) return NO_MARKERS;
  // The camera looks along -n; screen right = (-n) x up.
  const d = [-n[0], -n[1], -n[2]];
  const right = [d[1] * up[2] - d[2] * up[1], d[2] * up[0] - d[0] * up[2], d[0] * up[1] - d[1] * up[0]];
  const neg = (v: number[]) => v.map((x) => -x);
  return {
    right: letter(right),
    left: letter(neg(right)),
    top: letter([...up]),
    bottom: letter(neg([...up])),
  };
}

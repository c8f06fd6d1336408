import type { Types } from '@cornerstonejs/core';

/** A viewport's screen directions in patient space (LPS: +x L, +y P, +z S). */
export interface ScreenAxes {
  /** Screen x grows along this. */
  right: number[];
  /** Screen y grows along this (down the screen). */
  down: number[];
}

export function screenAxes(camera: Types.ICamera): ScreenAxes | undefined {
  const up = camera.viewUp;
  const n = camera.viewPlaneNormal;
  if (!up || !n) return undefined;
  // The camera looks along -n; screen right = (-n) x up.
  const d = [-n[0], -n[1], -n[2]];
  const right = [d[1] * up[2] - d[2] * up[1], d[2] * up[0] - d[0] * up[2], d[0] * up[1] - d[1] * up[0]];
  return { right, down: [-up[0], -up[1], -up[2]] };
}

/**
 * How a file's slice k (voxel axes i and j; `direction` row a = axis a in LPS) lies on a screen:
 * `transpose` when j, not i, runs along screen x (a file stored in coronal slices with S-I as i),
 * and whether screen x and y run against the voxel axes they follow.
 */
export interface SliceOnScreen {
  transpose: boolean;
  flipX: boolean;
  flipY: boolean;
}

export function sliceOnScreen(direction: ArrayLike<number>, screen: ScreenAxes): SliceOnScreen {
  const along = (a: number, v: number[]) =>
    direction[3 * a] * v[0] + direction[3 * a + 1] * v[1] + direction[3 * a + 2] * v[2];
  const transpose = Math.abs(along(1, screen.right)) > Math.abs(along(0, screen.right));
  const [onX, onY] = transpose ? [1, 0] : [0, 1];
  return { transpose, flipX: along(onX, screen.right) < 0, flipY: along(onY, screen.down) < 0 };
}

/**
 * Copies a w x h slice (index i + j w) into the screen's raster (its width first), as `place`
 * lays it out: `paint(screenIndex, sliceIndex)` for every pixel.
 */
export function placeSlice(
  w: number,
  h: number,
  place: SliceOnScreen,
  paint: (screen: number, slice: number) => void,
): { width: number; height: number } {
  const [width, height] = place.transpose ? [h, w] : [w, h];
  for (let j = 0; j < h; j++)
    for (let i = 0; i < w; i++) {
      let [x, y] = place.transpose ? [j, i] : [i, j];
      if (place.flipX) x = width - 1 - x;
      if (place.flipY) y = height - 1 - y;
      paint(x + y * width, i + j * w);
    }
  return { width, height };
}

/**
 * The voxel axis (row a of `direction`, axis a in LPS) closest to a view-plane normal: the axis a
 * view steps through. A 3-D FLAIR stored in sagittal slices has its axial view on voxel axis 0.
 */
export function nearestVoxelAxis(normal: ArrayLike<number>, direction: ArrayLike<number>): 0 | 1 | 2 {
  let best: 0 | 1 | 2 = 0;
  let most = -1;
  for (const a of [0, 1, 2] as const) {
    const c = Math.abs(
      normal[0] * direction[3 * a] + normal[1] * direction[3 * a + 1] + normal[2] * direction[3 * a + 2],
    );
    if (c > most) [best, most] = [a, c];
  }
  return best;
}

/**
 * The camera moved along its view-plane normal until its focal plane holds `target` (world
 * coordinates): the slice under the view changes; pan, zoom and rotation stay.
 */
export function cameraOnPlaneOf(
  camera: Pick<Types.ICamera, 'viewPlaneNormal' | 'focalPoint' | 'position'>,
  target: ArrayLike<number>,
): { focalPoint: Types.Point3; position: Types.Point3 } {
  const n = camera.viewPlaneNormal!;
  const fp = camera.focalPoint!;
  const pos = camera.position!;
  const d = (target[0] - fp[0]) * n[0] + (target[1] - fp[1]) * n[1] + (target[2] - fp[2]) * n[2];
  return {
    focalPoint: [fp[0] + d * n[0], fp[1] + d * n[1], fp[2] + d * n[2]],
    position: [pos[0] + d * n[0], pos[1] + d * n[1], pos[2] + d * n[2]],
  };
}

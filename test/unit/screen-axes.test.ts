/**
 * Where a file's slice k lands on screen (the Members panel draws each member's slice as the
 * view that shows those slices does): the real A5TY stored axially, as a RAS-ordered writer
 * stores it, and in coronal and sagittal slices, under cornerstone's own three cameras.
 */
import { join } from 'node:path';
import { CONSTANTS, type Types } from '@cornerstonejs/core';
import { describe, expect, it } from 'vitest';
import { loadVolume } from '../../core/src/node/load.ts';
import { markersFor } from '../../renderer/src/lib/markers.ts';
import {
  cameraOnPlaneOf,
  nearestVoxelAxis,
  placeSlice,
  screenAxes,
  sliceOnScreen,
} from '../../renderer/src/lib/screen-axes.ts';
import { DATA } from '../helpers/paths.ts';
import { CORONAL, reorder } from '../helpers/reorder.ts';

const CAMERAS = CONSTANTS.MPR_CAMERA_VALUES;
const camera = (id: keyof typeof CAMERAS) => CAMERAS[id] as unknown as Types.ICamera;
const flair = () => loadVolume(join(DATA, 'tcga-lgg', 'TCGA_DU_A5TY_19970709', 'flair.nii.gz'));

describe('screen axes of a camera', () => {
  it("are cornerstone's own right and the opposite of its up, for each of the three views", () => {
    for (const id of ['axial', 'sagittal', 'coronal'] as const) {
      const axes = screenAxes(camera(id))!;
      expect(axes.right.map((x) => x + 0)).toEqual([...CAMERAS[id].viewRight]);
      expect(axes.down.map((x) => x + 0)).toEqual([...CAMERAS[id].viewUp].map((x: number) => -x + 0));
    }
    expect(markersFor(camera('axial'))).toEqual({ left: 'R', right: 'L', top: 'A', bottom: 'P' });
    expect(markersFor(camera('coronal'))).toEqual({ left: 'R', right: 'L', top: 'S', bottom: 'I' });
  });
});

describe('a slice k on screen', () => {
  it('stored axially (i to the left, j to the back): as it is, in the axial view', async () => {
    const v = await flair();
    expect(sliceOnScreen(v.direction, screenAxes(camera('axial'))!)).toEqual({
      transpose: false,
      flipX: false,
      flipY: false,
    });
  });

  it('stored by a RAS-ordered writer: both in-plane axes reversed', async () => {
    const { volume } = reorder(await flair(), [0, 1, 2], [true, true, false]);
    expect(sliceOnScreen(volume.direction, screenAxes(camera('axial'))!)).toEqual({
      transpose: false,
      flipX: true,
      flipY: true,
    });
  });

  it('stored in coronal slices (i = S-I): transposed, superior at the top, in the coronal view', async () => {
    const { volume } = reorder(await flair(), ...CORONAL);
    const place = sliceOnScreen(volume.direction, screenAxes(camera('coronal'))!);
    expect(place).toEqual({ transpose: true, flipX: false, flipY: true });
    // voxel (i, j) of a 36 x 256 slice: screen x = j (patient left to the right), y = 35 - i
    const seen = new Map<number, number>();
    const { width, height } = placeSlice(36, 256, place, (p, n) => seen.set(p, n));
    expect([width, height]).toEqual([256, 36]);
    expect(seen.size).toBe(36 * 256);
    for (const [i, j] of [
      [0, 0],
      [35, 0],
      [7, 200],
    ] as [number, number][])
      expect(seen.get(j + (35 - i) * 256)).toBe(i + j * 36);
  });

  it('stored in sagittal slices (i = A-P, j = S-I): anterior to the left, superior at the top', async () => {
    const { volume } = reorder(await flair(), [1, 2, 0], [false, false, false]);
    expect(sliceOnScreen(volume.direction, screenAxes(camera('sagittal'))!)).toEqual({
      transpose: false,
      flipX: false,
      flipY: true,
    });
  });
});

describe('the voxel axis a view steps through, and a step to slice k', () => {
  it('is k in the axial view of an axial file, and follows the file when it is stored sagittally', async () => {
    const v = await flair();
    const axisIn = (d: ArrayLike<number>, id: keyof typeof CAMERAS) =>
      nearestVoxelAxis(camera(id).viewPlaneNormal!, d);
    expect([
      axisIn(v.direction, 'sagittal'),
      axisIn(v.direction, 'coronal'),
      axisIn(v.direction, 'axial'),
    ]).toEqual([0, 1, 2]);
    // stored in sagittal slices: new axes (A-P, S-I, L-R)
    const { volume } = reorder(v, [1, 2, 0], [false, false, false]);
    const d = volume.direction;
    expect([axisIn(d, 'sagittal'), axisIn(d, 'coronal'), axisIn(d, 'axial')]).toEqual([2, 0, 1]);
  });

  it('moves the camera along its normal only: the target lies on the new focal plane, the view keeps its offset', () => {
    const cam = {
      viewPlaneNormal: [0, 0.6, 0.8] as Types.Point3,
      focalPoint: [10, 20, 30] as Types.Point3,
      position: [10, 80, 110] as Types.Point3,
    };
    const target = [-5, 27, 44];
    const moved = cameraOnPlaneOf(cam, target);
    const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    expect(dot(moved.focalPoint, cam.viewPlaneNormal)).toBeCloseTo(dot(target, cam.viewPlaneNormal), 10);
    for (let a = 0; a < 3; a++)
      expect(moved.position[a] - moved.focalPoint[a]).toBeCloseTo(cam.position[a] - cam.focalPoint[a], 10);
    // in the plane, the focal point did not move
    const shift = moved.focalPoint.map((x, a) => x - cam.focalPoint[a]);
    const along = dot(shift, cam.viewPlaneNormal);
    for (let a = 0; a < 3; a++) expect(shift[a] - along * cam.viewPlaneNormal[a]).toBeCloseTo(0, 10);
    expect(along).not.toBeCloseTo(0, 3);
  });
});

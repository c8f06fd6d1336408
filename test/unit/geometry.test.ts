import { describe, expect, it } from 'vitest';
import {
  type Affine,
  affineFromVolume,
  geometryFromAffine,
  voxelToWorld,
  worldToVoxel,
} from '../../core/src/geometry.ts';
import { Rng } from '../../core/src/rng.ts';
import type { Vec3 } from '../../core/src/volume.ts';

/** Rotation matrix (row-major 3x3) about a unit axis by an angle (Rodrigues). */
function rotation(axis: Vec3, angle: number): number[][] {
  const n = Math.hypot(...axis);
  const [x, y, z] = axis.map((v) => v / n);
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const t = 1 - c;
  return [
    [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
    [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
    [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
  ];
}

/** RAS affine (row-major 4x4) with columns R[:,c] * zoom[c] * flip[c], plus a translation. */
function makeAffine(R: number[][], zooms: Vec3, flips: Vec3, t: Vec3): Affine {
  const a: Affine = new Array(16).fill(0);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) a[r * 4 + c] = R[r][c] * zooms[c] * flips[c];
    a[r * 4 + 3] = t[r];
  }
  a[15] = 1;
  return a;
}

/** RAS world position of voxel ijk under a NIfTI affine. */
function applyAffine(a: Affine, ijk: Vec3): Vec3 {
  return [0, 1, 2].map(
    (r) => a[r * 4] * ijk[0] + a[r * 4 + 1] * ijk[1] + a[r * 4 + 2] * ijk[2] + a[r * 4 + 3],
  ) as Vec3;
}

const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

const rng = new Rng(20240611);
const uniform = (lo: number, hi: number) => lo + (hi - lo) * rng.next();
const randomAxis = (): Vec3 => [rng.gaussian(), rng.gaussian(), rng.gaussian()];

/** Oblique, flipped and sheared affines: 60 random ones plus a few named ones. */
const CASES: { name: string; affine: Affine }[] = [
  { name: 'identity RAS', affine: makeAffine(rotation([0, 0, 1], 0), [1, 1, 1], [1, 1, 1], [0, 0, 0]) },
  {
    name: 'BraTS-like LPS grid (x and y flipped)',
    affine: makeAffine(rotation([0, 0, 1], 0), [1, 1, 1], [-1, -1, 1], [0, 239, 0]),
  },
  {
    name: 'LAS (one flip, negative determinant)',
    affine: makeAffine(rotation([0, 0, 1], 0), [0.9, 0.9, 3], [-1, 1, 1], [90, -126, -72]),
  },
  {
    name: 'oblique tilted 6.2 deg about x (dcm2niix-like)',
    affine: makeAffine(rotation([1, 0, 0], 0.1083), [3.25, 3.25, 3.6], [1, -1, 1], [-104, 58.7, -84.8]),
  },
];
for (let i = 0; i < 60; i++) {
  const flips = [0, 1, 2].map(() => (rng.next() < 0.5 ? -1 : 1)) as Vec3;
  const zooms = [0, 1, 2].map(() => uniform(0.2, 6)) as Vec3;
  const t = [0, 1, 2].map(() => uniform(-300, 300)) as Vec3;
  CASES.push({
    name: `random oblique #${i} (flips ${flips.join(',')})`,
    affine: makeAffine(rotation(randomAxis(), uniform(-Math.PI, Math.PI)), zooms, flips, t),
  });
}
// sheared: non-orthogonal columns (niivue's shear.nii.gz is one such real file)
for (let i = 0; i < 10; i++) {
  const a = makeAffine(rotation(randomAxis(), uniform(-1, 1)), [1.2, 0.8, 2.5], [1, 1, 1], [10, 20, 30]);
  a[1] += uniform(-0.5, 0.5);
  a[6] += uniform(-0.5, 0.5);
  CASES.push({ name: `sheared #${i}`, affine: a });
}

describe('NIfTI affine (RAS) <-> Volume geometry (LPS)', () => {
  it('identity RAS affine is the LPS grid with x and y reversed', () => {
    const g = geometryFromAffine(CASES[0].affine);
    expect(g.spacing).toEqual([1, 1, 1]);
    expect(g.origin.map((v) => v + 0)).toEqual([0, 0, 0]);
    expect(g.direction.map((v) => v + 0)).toEqual([-1, 0, 0, 0, -1, 0, 0, 0, 1]);
  });

  it('an LPS-stored grid (RAS affine diag(-1,-1,1)) has identity direction and negated x/y origin', () => {
    const g = geometryFromAffine(CASES[1].affine);
    expect(g.direction.map((v) => v + 0)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(g.origin.map((v) => v + 0)).toEqual([0, -239, 0]);
  });

  it('spacing is the column norm and direction columns are unit vectors, flips kept in the sign', () => {
    const g = geometryFromAffine(CASES[2].affine);
    expect(g.spacing[0]).toBeCloseTo(0.9, 14);
    expect(g.spacing[2]).toBeCloseTo(3, 14);
    // LAS: i runs to patient left, which is +x in LPS
    expect(g.direction[0]).toBeCloseTo(1, 14);
    expect(g.direction[4]).toBeCloseTo(-1, 14);
    for (let c = 0; c < 3; c++) expect(Math.hypot(...g.direction.slice(3 * c, 3 * c + 3))).toBeCloseTo(1, 14);
  });

  for (const { name, affine } of CASES) {
    it(`round trip exact: ${name}`, () => {
      const g = geometryFromAffine(affine);
      // affine -> geometry -> affine is exact up to floating-point rounding
      expect(maxDiff(affineFromVolume(g), affine)).toBeLessThan(1e-12);
      // and geometry -> affine -> geometry too
      const g2 = geometryFromAffine(affineFromVolume(g));
      expect(maxDiff(g2.spacing, g.spacing)).toBeLessThan(1e-12);
      expect(maxDiff(g2.origin, g.origin)).toBeLessThan(1e-12);
      expect(maxDiff(g2.direction, g.direction)).toBeLessThan(1e-12);
      // voxelToWorld is the affine with RAS -> LPS (x, y negated), at arbitrary (fractional) voxels
      for (let n = 0; n < 20; n++) {
        const ijk = [uniform(-10, 300), uniform(-10, 300), uniform(-5, 200)] as Vec3;
        const ras = applyAffine(affine, ijk);
        const lps = voxelToWorld(g, ijk);
        expect(maxDiff(lps, [-ras[0], -ras[1], ras[2]])).toBeLessThan(1e-9);
        // worldToVoxel inverts it
        expect(maxDiff(worldToVoxel(g, lps), ijk)).toBeLessThan(1e-9);
      }
    });
  }

  it('worldToVoxel o voxelToWorld is the identity on random grids and points (2000 pairs)', () => {
    let worst = 0;
    for (let n = 0; n < 2000; n++) {
      const { affine } = CASES[n % CASES.length];
      const g = geometryFromAffine(affine);
      const xyz = [uniform(-500, 500), uniform(-500, 500), uniform(-500, 500)] as Vec3;
      worst = Math.max(worst, maxDiff(voxelToWorld(g, worldToVoxel(g, xyz)), xyz));
    }
    expect(worst).toBeLessThan(1e-9);
  });

  it('voxel (0,0,0) is the origin and unit steps are spacing x direction', () => {
    const g = geometryFromAffine(CASES[3].affine);
    expect(voxelToWorld(g, [0, 0, 0])).toEqual(g.origin);
    for (let c = 0; c < 3; c++) {
      const e = [0, 0, 0] as Vec3;
      e[c] = 1;
      const step = voxelToWorld(g, e).map((v, r) => v - g.origin[r]);
      expect(
        maxDiff(
          step,
          [0, 1, 2].map((r) => g.direction[c * 3 + r] * g.spacing[c]),
        ),
      ).toBeLessThan(1e-12);
    }
  });

  it('a zero column (broken header) keeps a unit axis instead of dividing by zero', () => {
    const a = makeAffine(rotation([0, 0, 1], 0), [1, 1, 1], [1, 1, 1], [0, 0, 0]);
    a[2] = a[6] = a[10] = 0;
    const g = geometryFromAffine(a);
    expect(g.spacing[2]).toBe(1);
    expect(g.direction.slice(6)).toEqual([0, 0, 1]);
    expect(g.direction.every(Number.isFinite)).toBe(true);
  });
});

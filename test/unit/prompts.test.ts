import { describe, expect, it } from 'vitest';
import { QuorumError } from '../../core/src/errors.ts';
import type { Geometry } from '../../core/src/geometry.ts';
import { voxelToWorld } from '../../core/src/geometry.ts';
import { HeadRobustFrame } from '../../core/src/preprocess-v2.ts';
import { propagateClicks } from '../../core/src/prompt-propagation.ts';
import {
  checkPrompts,
  clickMaps,
  type ModelClick,
  parsePrompts,
  region2d,
  regionCentre,
} from '../../core/src/prompts.ts';
import type { Mat3, Vec3 } from '../../core/src/volume.ts';

// an oblique-ish grid: spacing differs per axis, origin off zero, axes flipped
const REF: Geometry = {
  dims: [60, 50, 20],
  spacing: [0.9, 1.1, 5],
  origin: [100, -40, 12],
  direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1] as Mat3,
};

function errorOf(f: () => unknown): QuorumError {
  try {
    f();
  } catch (e) {
    return e as QuorumError;
  }
  throw new Error('no error');
}

describe('parsePrompts (prompts.json)', () => {
  it('reads voxel and LPS points onto the reference grid', () => {
    const lps = voxelToWorld(REF, [12, 30, 7]);
    const p = parsePrompts(
      JSON.stringify({
        points: [
          { voxel: [5, 6, 7], positive: true },
          { lps, positive: false },
        ],
      }),
      'p.json',
      REF,
    );
    expect(p.points[0]).toEqual({ ijk: [5, 6, 7], positive: true });
    expect(p.points[1].positive).toBe(false);
    for (const [a, x] of p.points[1].ijk.entries()) expect(x).toBeCloseTo([12, 30, 7][a], 6);
  });

  it('names the file and the bad entry', () => {
    const bad: [unknown, RegExp][] = [
      ['not json', /p\.json: not JSON/],
      [{ pts: [] }, /p\.json: no "points" list/],
      [{ points: [{ voxel: [1, 2, 3] }] }, /points\[0\] needs "positive"/],
      [{ points: [{ voxel: [1, 2], positive: true }] }, /points\[0\]: voxel must be three numbers/],
      [{ points: [{ voxel: [1, 2, 3], lps: [1, 2, 3], positive: true }] }, /exactly one of "voxel"/],
      [
        {
          points: [
            { voxel: [1, 2, 3], positive: true },
            { voxel: [1, 2, 20], positive: true },
          ],
        },
        /points\[1\] \(1, 2, 20 in voxels\) is outside the 60x50x20 reference volume/,
      ],
      [{ points: [{ lps: [0, 0, 1000], positive: false }] }, /points\[0\] .* is outside/],
    ];
    for (const [doc, re] of bad) {
      const e = errorOf(() =>
        parsePrompts(typeof doc === 'string' ? doc : JSON.stringify(doc), 'p.json', REF),
      );
      expect(e).toBeInstanceOf(QuorumError);
      expect(e.code).toBe('bad-argument');
      expect(e.message).toMatch(re);
    }
  });

  it('checkPrompts refuses points from a client that are outside the case', () => {
    expect(() => checkPrompts({ points: [{ ijk: [1, 1, 25], positive: true }] }, REF.dims)).toThrow(
      /outside/,
    );
    expect(() => checkPrompts({ points: [{ ijk: [1, 1, 1] }] } as never, REF.dims)).toThrow(/positive/);
    expect(checkPrompts({ points: [{ ijk: [1, 1, 1], positive: true }] }, REF.dims).protect).toEqual([]);
  });
});

describe('click maps and regions', () => {
  it('draws each click as a unit-peak Gaussian in its own channel', () => {
    const m = clickMaps(
      [
        { slice: 0, row: 10, col: 20, positive: true },
        { slice: 0, row: 30, col: 5, positive: false },
      ],
      40,
      40,
      1.75,
    );
    expect(m[10 * 40 + 20]).toBe(1);
    expect(m[1600 + 30 * 40 + 5]).toBe(1);
    expect(m[1600 + 10 * 40 + 20]).toBe(0);
    expect(m[10 * 40 + 22]).toBeCloseTo(Math.exp(-4 / (2 * 1.75 * 1.75)), 6);
  });

  it('finds a region and its deepest pixel', () => {
    const H = 30;
    const W = 30;
    const mask = new Uint8Array(H * W);
    for (let y = 5; y < 16; y++) for (let x = 10; x < 21; x++) mask[y * W + x] = 1;
    mask[25 * W + 25] = 1; // another region
    const r = region2d(mask, H, W, 7 * W + 12);
    expect(r.reduce((a, b) => a + b, 0)).toBe(121);
    expect(regionCentre(r, H, W)).toBe(10 * W + 15);
    expect(region2d(mask, H, W, 0).some((v) => v)).toBe(false);
  });
});

describe('HeadRobustFrame.modelPoint', () => {
  it('puts a click on the model pixel that reads that voxel', () => {
    // a bright cube on a dark head: the model input's brightest pixel is where the cube's centre maps
    const dims: Vec3 = [80, 70, 12];
    const data = new Float32Array(dims[0] * dims[1] * dims[2]);
    for (let k = 0; k < dims[2]; k++)
      for (let j = 10; j < 60; j++)
        for (let i = 10; i < 70; i++) data[i + dims[0] * (j + dims[1] * k)] = 100 + ((i * 7 + j * 13) % 50);
    for (let j = 40; j < 45; j++) for (let i = 20; i < 25; i++) data[i + dims[0] * (j + dims[1] * 6)] = 1000;
    const vol = {
      dims,
      spacing: [1.2, 0.8, 4] as Vec3,
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as Mat3,
      data,
    };
    const spec = {
      kind: 'head-robust-v2' as const,
      inputSize: [120, 120] as [number, number],
      spacingMm: 2,
      clip: [-2, 4] as [number, number],
      histogramBins: 256,
      sampleTarget: 1 << 20,
      minSliceForegroundMm2: 400,
    };
    const frame = new HeadRobustFrame([vol], spec);
    const p = frame.modelPoint([22, 42, 6]);
    expect(p.slice).toBe(6);
    const input = frame.input(6);
    let best = 0;
    for (let i = 1; i < input.length; i++) if (input[i] > input[best]) best = i;
    expect(Math.abs(Math.floor(best / 120) - p.row)).toBeLessThanOrEqual(1);
    expect(Math.abs((best % 120) - p.col)).toBeLessThanOrEqual(1);
  });
});

describe('propagateClicks (synthetic volume)', () => {
  const H = 20;
  const W = 20;
  // a lesion on slices 3..7 (a square growing to the middle), another on 12..13
  const lesion = (s: number) => {
    const m = new Uint8Array(H * W);
    const r = s >= 3 && s <= 7 ? 4 - Math.abs(s - 5) : s === 12 || s === 13 ? 2 : -1;
    const [cy, cx] = s <= 7 ? [8, 8] : [15, 15];
    if (r >= 0)
      for (let y = cy - r; y <= cy + r; y++) for (let x = cx - r; x <= cx + r; x++) m[y * W + x] = 1;
    return m;
  };
  const slices = Array.from({ length: 16 }, (_, i) => i);

  it('a positive click spreads through the slices of its lesion and stops where the lesion ends', async () => {
    // the "model" finds a lesion only where a positive click lands on it; the current proposal is empty
    const calls: number[] = [];
    const propose = async (s: number, clicks: ModelClick[]) => {
      calls.push(s);
      const l = lesion(s);
      return clicks.some((c) => c.positive && l[Math.round(c.row) * W + Math.round(c.col)])
        ? l
        : new Uint8Array(H * W);
    };
    const out = await propagateClicks(
      [{ slice: 5, row: 8, col: 9, positive: true }],
      { H, W, slices },
      propose,
      async () => new Uint8Array(H * W),
    );
    expect([...out.keys()].sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7]);
    expect(out.get(3)).toEqual([{ slice: 3, row: 8, col: 8, positive: true, propagated: true }]);
    // one try past each end, then it stops
    expect(calls.sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8]);
  });

  it('a negative click marks every slice of the current lesion under it, and only that lesion', async () => {
    const out = await propagateClicks(
      [{ slice: 12, row: 15, col: 14, positive: false }],
      { H, W, slices },
      async () => new Uint8Array(H * W),
      async (s) => lesion(s),
    );
    expect([...out.keys()].sort((a, b) => a - b)).toEqual([12, 13]);
    expect(out.get(13)?.every((c) => !c.positive)).toBe(true);
  });

  it('a negative click is not followed into a much larger region it touches (the real lesion)', async () => {
    // a small false positive on slice 8 touching the lesion's slice 7 from above: 3x3 inside 5x5
    const fp = (s: number) => {
      if (s !== 8) return lesion(s);
      const m = new Uint8Array(H * W);
      for (let y = 7; y <= 9; y++) for (let x = 7; x <= 9; x++) m[y * W + x] = 1;
      return m;
    };
    const out = await propagateClicks(
      [{ slice: 8, row: 8, col: 8, positive: false }],
      { H, W, slices },
      async () => new Uint8Array(H * W),
      // slice 7 below it: the 9x9 middle of the lesion
      async (s) => (s === 7 ? lesion(5) : fp(s)),
    );
    expect([...out.keys()]).toEqual([8]);
  });

  it('a negative click is not followed into a region of like size that lies mostly outside it', async () => {
    // a 5x5 false positive on slice 10 whose slice 11 holds a 5x5 region shifted by 3 pixels
    // (9 of its 25 pixels under it: another object it touches), and slice 9 a 3x3 inside it
    const square = (cy: number, cx: number, r: number) => {
      const m = new Uint8Array(H * W);
      for (let y = cy - r; y <= cy + r; y++) for (let x = cx - r; x <= cx + r; x++) m[y * W + x] = 1;
      return m;
    };
    const current = async (s: number) =>
      s === 10 ? square(8, 8, 2) : s === 11 ? square(8, 11, 2) : s === 9 ? square(8, 8, 1) : square(0, 0, -1);
    const out = await propagateClicks(
      [{ slice: 10, row: 8, col: 8, positive: false }],
      { H, W, slices },
      async () => new Uint8Array(H * W),
      current,
    );
    expect([...out.keys()].sort((a, b) => a - b)).toEqual([9, 10]);
  });

  it('a negative click near the edge of its region trims that slice only (a lesion drawn too wide)', async () => {
    // the click on the rim of the 9x9 middle of the lesion (slice 5): not the lesion's other slices
    const out = await propagateClicks(
      [{ slice: 5, row: 8, col: 12, positive: false }],
      { H, W, slices },
      async () => new Uint8Array(H * W),
      async (s) => lesion(s),
    );
    expect([...out.keys()]).toEqual([5]);
    // at its centre, the whole lesion
    const whole = await propagateClicks(
      [{ slice: 5, row: 8, col: 8, positive: false }],
      { H, W, slices },
      async () => new Uint8Array(H * W),
      async (s) => lesion(s),
    );
    expect([...whole.keys()].sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7]);
  });

  it('protected slices are neither proposed nor clicked', async () => {
    const out = await propagateClicks(
      [{ slice: 5, row: 8, col: 8, positive: true }],
      { H, W, slices: slices.filter((s) => s !== 6) },
      async (s) => lesion(s),
      async () => new Uint8Array(H * W),
    );
    expect([...out.keys()].sort((a, b) => a - b)).toEqual([3, 4, 5]);
  });
});

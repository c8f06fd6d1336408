import { describe, expect, it } from 'vitest';
import { CROP_MARGIN_PX, cutPlanes, headBox, pastePlanes } from '../../workers/src/engine/crop.ts';

const H = 120;
const W = 120;
const GRID = { size: 16, origin: 8, margin: CROP_MARGIN_PX };

/** Two channels at -2 (air) with a head rectangle rows r0..r1, cols c0..c1 in channel `ch`. */
function slice(r0: number, r1: number, c0: number, c1: number, ch = 0): Float32Array {
  const x = new Float32Array(2 * H * W).fill(-2);
  for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) x[ch * H * W + r * W + c] = 0.5;
  return x;
}

describe('crop to the head', () => {
  it('boxes the head with the margin, on the UNet grid, inside the frame', () => {
    for (const [r0, r1, c0, c1, ch] of [
      [50, 70, 40, 60, 0],
      [3, 30, 90, 119, 1],
      [0, 119, 10, 100, 0],
      [61, 61, 61, 61, 1],
    ]) {
      const b = headBox(slice(r0, r1, c0, c1, ch), [-0.3, -0.3], H, W, GRID);
      expect(b.r0).toBeLessThanOrEqual(Math.max(0, r0 - CROP_MARGIN_PX));
      expect(b.c0).toBeLessThanOrEqual(Math.max(0, c0 - CROP_MARGIN_PX));
      expect(b.r0 + b.h).toBeGreaterThanOrEqual(Math.min(H, r1 + 1 + CROP_MARGIN_PX));
      expect(b.c0 + b.w).toBeGreaterThanOrEqual(Math.min(W, c1 + 1 + CROP_MARGIN_PX));
      expect(b.r0 + b.h).toBeLessThanOrEqual(H);
      expect(b.c0 + b.w).toBeLessThanOrEqual(W);
      for (const [o, n, N] of [
        [b.r0, b.h, H],
        [b.c0, b.w, W],
      ]) {
        // either the whole side or a multiple of 16 starting on the coarsest grid
        if (n !== N) {
          expect(n % 16).toBe(0);
          expect(o % 8).toBe(0);
        }
      }
    }
    // a small head gets a small crop: 21 px + 2 margins + the origin's phase, rounded up to 16
    const small = headBox(slice(50, 70, 40, 60), [-0.3, -0.3], H, W, GRID);
    const side = Math.ceil((21 + 2 * CROP_MARGIN_PX + 7) / 16) * 16;
    expect(small.h).toBeLessThanOrEqual(side);
    expect(small.w).toBeLessThanOrEqual(side);
    expect(small.h * small.w).toBeLessThan(H * W);
  });

  it('takes the whole frame for a slice without head pixels, and reaches every click', () => {
    expect(headBox(new Float32Array(2 * H * W).fill(-2), [-0.3, -0.3], H, W, GRID)).toEqual({
      r0: 0,
      c0: 0,
      h: H,
      w: W,
    });
    const click = { slice: 0, row: 100, col: 10, positive: false };
    const b = headBox(slice(50, 70, 40, 60), [-0.3, -0.3], H, W, GRID, [click], 7);
    expect(b.r0 + b.h).toBeGreaterThanOrEqual(Math.min(H, 108));
    expect(b.c0).toBe(0);
  });

  it("keeps the grid's margin: a model's tighter margin gives a tighter box around the same head", () => {
    const head = slice(40, 80, 30, 90);
    const wide = headBox(head, [-0.3, -0.3], H, W, GRID);
    const tight = headBox(head, [-0.3, -0.3], H, W, { ...GRID, margin: 8 });
    expect(tight.r0).toBeLessThanOrEqual(32);
    expect(tight.c0).toBeLessThanOrEqual(22);
    expect(tight.r0 + tight.h).toBeGreaterThanOrEqual(89);
    expect(tight.c0 + tight.w).toBeGreaterThanOrEqual(99);
    // 41 x 61 head: 16 px each side gives 80 x 112 on the grid (origins on multiples of 8), 8 px 64 x 96
    expect([wide.h, wide.w]).toEqual([80, 112]);
    expect([tight.h, tight.w]).toEqual([64, 96]);
  });

  it('cuts planes and pastes them back where they were, the rest filled', () => {
    const src = Float32Array.from({ length: 3 * H * W }, (_, i) => i);
    const box = { r0: 24, c0: 40, h: 48, w: 64 };
    const cut = new Float32Array(3 * box.h * box.w);
    cutPlanes(src, 0, 3, W, H, box, cut, 0);
    expect(cut[0]).toBe(24 * W + 40);
    expect(cut[box.h * box.w]).toBe(H * W + 24 * W + 40);
    const back = pastePlanes(cut, 3, H, W, box, -1);
    for (let p = 0; p < 3; p++)
      for (let r = 0; r < H; r++)
        for (let c = 0; c < W; c++) {
          const i = p * H * W + r * W + c;
          const inside = r >= 24 && r < 72 && c >= 40 && c < 104;
          if (back[i] !== (inside ? src[i] : -1)) throw new Error(`plane ${p} (${r}, ${c}): ${back[i]}`);
        }
  });
});

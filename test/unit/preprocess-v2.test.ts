import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  contextSlices,
  contextStride,
  frameContextStride,
  sliceDifferences,
  strideOf,
} from '../../core/src/context-frame.ts';
import { QuorumError } from '../../core/src/errors.ts';
import type { ModelManifest, PreprocessHeadRobustV2 } from '../../core/src/manifest.ts';
import { modelFrame } from '../../core/src/model-frame.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { prepareCase, resizeBilinear, sliceInput } from '../../core/src/preprocess.ts';
import { backgroundFill, type ChannelStats, HeadRobustFrame } from '../../core/src/preprocess-v2.ts';
import type { Mat3, Vec3, Volume } from '../../core/src/volume.ts';
import { readManifest } from '../../workers/src/engine/session.ts';
import { loadFixture, maxAbsDiff } from '../helpers/fixtures.ts';
import { DATA, PAT3, REPO } from '../helpers/paths.ts';
import { EVERY_VOXEL_V2, reorder, world } from '../helpers/reorder.ts';

/** Python's float64 statistics survive JSON exactly; allow 1e-9 relative for the stray ulp. */
function expectClose(a: number, b: number) {
  expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(b)));
}

const v1 = readManifest(join(REPO, 'models', 'quorum-wt-2ch'));
const withSpec = (spec: PreprocessHeadRobustV2): ModelManifest => ({
  ...v1,
  name: 'v2-test',
  preprocess: spec,
});

/** make_preprocess_fixture.py's `derive`: the voxels at the volume's minimum set to 0 (a mask's fill). */
function derive(how: string | undefined, v: Volume): Volume {
  if (how === undefined) return v;
  expect(how).toBe('zero-background');
  let low = Number.POSITIVE_INFINITY;
  for (const x of v.data) if (x < low) low = x;
  const data = new Float32Array(v.data.length);
  for (let i = 0; i < data.length; i++) data[i] = v.data[i] === low ? 0 : v.data[i];
  return { ...v, data };
}

describe.each(['tcga-lgg-fg-6689', 'brats-tcia-pat222', 'brats-pat0003-zero-background'])(
  'preprocessing v2 = preprocess.py on %s',
  (name) => {
    const fx = loadFixture(name, 'preprocess-v2');
    const meta = fx.meta as {
      files: [string, string];
      spec: PreprocessHeadRobustV2;
      stats: ChannelStats[];
      centre: Vec3;
      axes: Record<string, number>;
      slices: number[];
      inputSlices: number[];
      backSlice: number;
      contextSlices: Record<string, Record<string, number[]>>;
      derive?: string;
      fills: ({ value: number; to: number } | null)[];
      sliceDifferences: number[];
      contextStride: Record<string, number>;
      contextSlicesStride3: Record<string, number[]>;
    };
    let frame: HeadRobustFrame;
    let frameVolumes: { flair: Volume; t1c: Volume };
    beforeAll(async () => {
      const [flair, t1c] = (await Promise.all(meta.files.map((f) => loadVolume(join(DATA, f))))).map((v) =>
        derive(meta.derive, v),
      );
      frameVolumes = { flair, t1c };
      // through the registry, as the engine gets it: the constants come from the manifest block
      frame = modelFrame({ flair, t1c }, withSpec(meta.spec), name) as HeadRobustFrame;
    });

    it('has the same statistics, axes, head centre and proposed slices', () => {
      expect(frame).toBeInstanceOf(HeadRobustFrame);
      // a background fill inside the tissue's range (only the rewritten pat0003 has one)
      for (const [c, v] of [frameVolumes.flair, frameVolumes.t1c].entries())
        expect(backgroundFill(v.data, meta.spec) ?? null).toEqual(meta.fills[c]);
      expect(meta.fills.every((f) => f === null)).toBe(meta.derive === undefined);
      expect(frame.stats).toHaveLength(2);
      for (const [c, st] of frame.stats.entries()) {
        expect(st.otsuBin).toBe(meta.stats[c].otsuBin);
        for (const key of ['lo', 'hi', 'p1', 'p50', 'p99'] as const) expectClose(st[key], meta.stats[c][key]);
      }
      expect(frame.axes).toEqual(meta.axes);
      for (let a = 0; a < 3; a++) expectClose(frame.centre[a], meta.centre[a]);
      expect(frame.slices).toEqual(meta.slices);
      expect(frame.nativeSlices).toEqual(meta.slices);
    });

    it('gives the same model inputs (1e-5)', () => {
      const ref = fx.arrays.inputs;
      const size = ref.shape.slice(1).reduce((a, b) => a * b, 1);
      expect(ref.shape.slice(1)).toEqual([2, ...meta.spec.inputSize]);
      for (const [s, k] of meta.inputSlices.entries()) {
        const ours = frame.input(k);
        expect(maxAbsDiff(ours, ref.data.subarray(s * size, (s + 1) * size))).toBeLessThan(1e-5);
      }
    });

    it('adds the neighbour slices context.py adds, as their FLAIR after the own channels', () => {
      for (const [c, bySlice] of Object.entries(meta.contextSlices)) {
        const context = Number(c);
        const wide = modelFrame(frameVolumes, { ...withSpec(meta.spec), context }, name);
        expect(wide.channels).toBe(2 + 2 * context);
        expect(wide.foregroundFloor).toEqual([
          ...frame.foregroundFloor,
          ...Array(2 * context).fill(frame.foregroundFloor[0]),
        ]);
        const HW = meta.spec.inputSize[0] * meta.spec.inputSize[1];
        for (const [k, neighbours] of Object.entries(bySlice)) {
          expect(contextSlices(frame.slices, Number(k), context)).toEqual(neighbours);
          const input = wide.input(Number(k));
          expect(input).toHaveLength((2 + 2 * context) * HW);
          expect(maxAbsDiff(input.subarray(0, 2 * HW), frame.input(Number(k)))).toBe(0);
          for (const [i, n] of neighbours.entries())
            expect(
              maxAbsDiff(input.subarray((2 + i) * HW, (3 + i) * HW), frame.input(n).subarray(0, HW)),
            ).toBe(0);
        }
        // the frame's other duties are the inner frame's
        expect(wide.slices).toEqual(frame.slices);
        expect(
          maxAbsDiff(wide.toNative(fx.arrays.backMap.data, meta.backSlice), fx.arrays.back.data),
        ).toBeLessThan(1e-5);
      }
      expect(() => modelFrame(frameVolumes, { ...withSpec(meta.spec), context: 1.5 }, name)).toThrow(
        /context 1.5/,
      );
    });

    it('reads the context as far apart as context.py: slice differences, stride, neighbours', () => {
      // one pass over the slices (each costs every slice's input), the strides read off it
      const d = sliceDifferences(frame);
      expect(d).toHaveLength(meta.sliceDifferences.length);
      for (const [s, x] of d.entries()) expect(Math.abs(x - meta.sliceDifferences[s])).toBeLessThan(1e-6);
      for (const [m, stride] of Object.entries(meta.contextStride))
        expect(strideOf(d, Number(m))).toBe(stride);
      // the manifest's field reaches the frame: its context is read that far apart
      const [m, stride] = Object.entries(meta.contextStride)[0];
      const wide = modelFrame(
        frameVolumes,
        { ...withSpec(meta.spec), context: 1, contextMinChange: Number(m) },
        name,
      );
      expect(frameContextStride(wide)).toBe(stride);
      const k = frame.slices[frame.slices.length >> 1];
      const HW = meta.spec.inputSize[0] * meta.spec.inputSize[1];
      const below = contextSlices(frame.slices, k, 1, stride)[0];
      expect(maxAbsDiff(wide.input(k).subarray(2 * HW, 3 * HW), frame.input(below).subarray(0, HW))).toBe(0);
      for (const [k, neighbours] of Object.entries(meta.contextSlicesStride3))
        expect(contextSlices(frame.slices, Number(k), 1, 3)).toEqual(neighbours);
      // without the manifest field: the adjacent slices, as before, and no pass over the slices
      expect(contextStride(frame, undefined)).toBe(1);
    });

    it('maps a model map back onto the same native plane (1e-5, 0 outside)', () => {
      const ours = frame.toNative(fx.arrays.backMap.data, meta.backSlice);
      expect(maxAbsDiff(ours, fx.arrays.back.data)).toBeLessThan(1e-5);
      // the native grid is larger than the 240 mm field of view on these cases: zeros exist
      expect(ours.some((v) => v === 0)).toBe(true);
    });
  },
);

describe('preprocessing v2 in any voxel order', () => {
  const spec = EVERY_VOXEL_V2;
  let flair: Volume;
  let t1c: Volume;
  let base: HeadRobustFrame;
  beforeAll(async () => {
    const dir = join(DATA, 'tcga-lgg', 'TCGA_FG_6689_20020326');
    [flair, t1c] = await Promise.all([
      loadVolume(join(dir, 'flair.nii.gz')),
      loadVolume(join(dir, 't1c.nii.gz')),
    ]);
    base = new HeadRobustFrame([flair, t1c], spec, ['flair', 't1c']);
    expect(base.sliceAxis).toBe(2);
  });

  it.each([
    { perm: [2, 0, 1] as Vec3, flip: [true, false, true] as [boolean, boolean, boolean] },
    { perm: [1, 2, 0] as Vec3, flip: [false, true, false] as [boolean, boolean, boolean] },
  ])(
    'reordered $perm flipped $flip: same inputs per world slice, maps back to the same world positions',
    ({ perm, flip }) => {
      const a = reorder(flair, perm, flip);
      const b = reorder(t1c, perm, flip);
      // the reordering keeps world positions (checked on a few corners and inner voxels)
      for (const n of [
        [0, 0, 0],
        [5, 17, 3],
        [a.volume.dims[0] - 1, 2, a.volume.dims[2] - 1],
      ] as Vec3[]) {
        const p = world(a.volume, n);
        const q = world(flair, a.toOld(n));
        for (let r = 0; r < 3; r++) expect(p[r]).toBeCloseTo(q[r], 9);
      }
      const f = new HeadRobustFrame([a.volume, b.volume], spec, ['flair', 't1c']);
      expect(f.stats).toEqual(base.stats);
      const newSlice = perm.indexOf(2);
      expect(f.sliceAxis).toBe(newSlice);
      const toNewK = (k: number) => (flip[newSlice] ? f.dims[newSlice] - 1 - k : k);
      expect([...f.slices].map(toNewK).sort((x, y) => x - y)).toEqual(base.slices);
      expect(f.nativeSlices).not.toEqual(f.slices);
      const [nx, ny] = flair.dims;
      for (const k of [base.slices[3], base.slices[Math.floor(base.slices.length / 2)]]) {
        const kNew = toNewK(k);
        const ref = base.input(k);
        expect(maxAbsDiff(f.input(kNew), ref)).toBeLessThan(1e-5);
        // back-mapping: each native voxel of the new plane lands on the world voxel of the original plane
        const map = ref.subarray(0, 120 * 120);
        const refPlane = base.toNative(map, k);
        const plane = f.toNative(map, kNew);
        const rest = [0, 1, 2].filter((x) => x !== newSlice);
        let worst = 0;
        let nonzero = 0;
        for (let q = 0; q < f.dims[rest[1]]; q++)
          for (let p = 0; p < f.dims[rest[0]]; p++) {
            const n: Vec3 = [0, 0, 0];
            n[newSlice] = kNew;
            n[rest[0]] = p;
            n[rest[1]] = q;
            const [i, j, kk] = a.toOld(n);
            expect(kk).toBe(k);
            const v = plane[p + f.dims[rest[0]] * q];
            worst = Math.max(worst, Math.abs(v - refPlane[i + nx * j]));
            if (v !== 0) nonzero++;
          }
        expect(worst).toBeLessThan(1e-5);
        expect(nonzero).toBeGreaterThan(nx * ny * 0.5);
      }
    },
  );
});

describe('preprocessing registry', () => {
  it('gives v1 models exactly the v1 path', async () => {
    const [flair, t1c] = await Promise.all([
      loadVolume(join(PAT3, 'Flair_subtrMeanDivStd.nii.gz')),
      loadVolume(join(PAT3, 'T1c_subtrMeanDivStd.nii.gz')),
    ]);
    const frame = modelFrame({ flair, t1c }, v1, 'pat0003');
    const prepared = prepareCase({ flair, t1c }, v1, 'pat0003');
    expect(frame.sliceAxis).toBe(2);
    expect(frame.slices).toEqual(prepared.brainSlices);
    const [H, W] = v1.preprocess.inputSize;
    const input = frame.input(75);
    expect(maxAbsDiff(input, sliceInput(prepared, 75, [H, W]))).toBe(0);
    const map = input.slice(0, H * W);
    expect(maxAbsDiff(frame.toNative(map, 75), resizeBilinear(map, H, W, flair.dims[1], flair.dims[0]))).toBe(
      0,
    );
  });

  it('reads the constants from the manifest block', () => {
    const vol = (data: Float32Array): Volume => ({
      dims: [40, 30, 6],
      spacing: [1, 1, 3],
      origin: [0, 0, 0],
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      data,
      source: { path: 'x', format: 'generated', datatype: 'float32', sequence: 'flair' },
    });
    // a bright 20 x 20 square on slices 1..4, on a dark background
    const data = new Float32Array(40 * 30 * 6);
    for (let k = 1; k < 5; k++)
      for (let j = 5; j < 25; j++) for (let i = 10; i < 30; i++) data[i + 40 * (j + 30 * k)] = 100 + i + j;
    const spec: PreprocessHeadRobustV2 = {
      kind: 'head-robust-v2',
      inputSize: [16, 24],
      spacingMm: 3,
      clip: [-1, 0.25],
      histogramBins: 64,
      sampleTarget: 1000,
      minSliceForegroundMm2: 300,
    };
    const f = modelFrame({ flair: vol(data), t1c: vol(data) }, withSpec(spec));
    expect(f.input(2)).toHaveLength(2 * 16 * 24);
    expect(Math.min(...f.input(2))).toBe(-1);
    expect(Math.max(...f.input(2))).toBe(0.25);
    expect(f.slices).toEqual([1, 2, 3, 4]);
    expect(
      modelFrame({ flair: vol(data), t1c: vol(data) }, withSpec({ ...spec, minSliceForegroundMm2: 401 }))
        .slices,
    ).toEqual([]);
    expect(f.toNative(new Float32Array(16 * 24).fill(1), 2)).toHaveLength(40 * 30);
  });

  it('names the sequence and the case when an image cannot be normalised', () => {
    const spec = loadFixture('brats-tcia-pat222', 'preprocess-v2').meta.spec as PreprocessHeadRobustV2;
    const m = withSpec(spec);
    const geo = {
      dims: [100, 100, 1] as Vec3,
      spacing: [1, 1, 1] as Vec3,
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as Mat3,
    };
    const ok = new Float32Array(10000).map((_, i) => (i % 100 > 30 && i % 100 < 70 ? 50 + (i % 7) : 0));
    const fails = (data: Float32Array, re: RegExp) => {
      let err: unknown;
      try {
        modelFrame({ flair: { ...geo, data: ok }, t1c: { ...geo, data } }, m, '/cases/x');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(QuorumError);
      expect((err as QuorumError).message).toMatch(re);
    };
    fails(new Float32Array(10000).fill(3), /^\/cases\/x: t1c: the image is constant \(3\)/);
    fails(
      new Float32Array(10000).map((_, i) => (i < 50 ? 1 : 0)),
      /^\/cases\/x: t1c: no foreground found/,
    );
    fails(
      new Float32Array(10000).map((_, i) => (i % 2 ? 1 : 0)),
      /^\/cases\/x: t1c: the foreground has no contrast/,
    );
    expect(() =>
      modelFrame({ flair: { ...geo, data: ok }, t1c: { ...geo, data: ok } }, m, '/cases/x'),
    ).not.toThrow();
    expect(() => modelFrame({ flair: { ...geo, data: ok } }, m, '/cases/x')).toThrow(/missing: t1c/);
  });
});

import { QuorumError } from '../errors.ts';
import { backgroundValue } from '../resample.ts';
import type { Mat3, Vec3, Volume } from '../volume.ts';

/**
 * Rigid registration (mutual information, multi-resolution) of one sequence onto another, for
 * studies where the patient moved between series: elastix, run from @itk-wasm/elastix's own
 * WebAssembly inside the Node process that calls it (the package's files, never a download): the
 * CLI's own process, or the app's engine process (workers/src/engine/main.ts, `register`), never
 * the app's host. Resampling through world coordinates (core/src/resample.ts) stays the default;
 * this is asked for explicitly.
 */

export interface Registered {
  /** `moving` on `fixed`'s grid after the rigid transform, trilinear. */
  volume: Volume;
  /** Rotation angle of the found transform (degrees) and length of its translation at the fixed grid's centre (mm). */
  rotationDeg: number;
  translationMm: number;
  /** Euler angles (rad, about x, y, z) and translation (mm, LPS), elastix's EulerTransform parameters. */
  parameters: number[];
  seconds: number;
  /** Where elastix ran, when not in this process (e.g. "the engine process (pid 1234)"). */
  ranIn?: string;
}

/** itk-wasm's Image: ITK's direction matrix (columns = axes) stored row-major. */
function toItk(v: Volume) {
  const direction = new Float64Array(9);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) direction[r * 3 + c] = v.direction[c * 3 + r];
  return {
    imageType: { dimension: 3, componentType: 'float32', pixelType: 'Scalar', components: 1 },
    name: v.source.path,
    origin: [...v.origin],
    spacing: [...v.spacing],
    direction,
    size: [...v.dims],
    // itk-wasm copies the array's whole buffer into the module, from its start: a view (a volume
    // read from a .nii.gz is one, past its header) goes as a copy of its own
    data:
      v.data instanceof Float32Array && v.data.byteLength === v.data.buffer.byteLength
        ? v.data
        : Float32Array.from(v.data),
    metadata: new Map(),
  };
}

/** Rotation angle (degrees) of EulerTransform angles (rx, ry, rz): ITK's R = Rz·Rx·Ry. */
function eulerAngleDeg([rx, ry, rz]: number[]): number {
  const mul = (a: number[][], b: number[][]) =>
    a.map((row) => [0, 1, 2].map((c) => row[0] * b[0][c] + row[1] * b[1][c] + row[2] * b[2][c]));
  const [cx, sx, cy, sy, cz, sz] = [rx, ry, rz].flatMap((t) => [Math.cos(t), Math.sin(t)]);
  const R = mul(
    mul(
      [
        [cz, -sz, 0],
        [sz, cz, 0],
        [0, 0, 1],
      ],
      [
        [1, 0, 0],
        [0, cx, -sx],
        [0, sx, cx],
      ],
    ),
    [
      [cy, 0, sy],
      [0, 1, 0],
      [-sy, 0, cy],
    ],
  );
  const trace = R[0][0] + R[1][1] + R[2][2];
  return (Math.acos(Math.max(-1, Math.min(1, (trace - 1) / 2))) * 180) / Math.PI;
}

export async function registerRigid(fixed: Volume, moving: Volume): Promise<Registered> {
  const t0 = performance.now();
  let elastix: typeof import('@itk-wasm/elastix');
  try {
    elastix = await import('@itk-wasm/elastix');
  } catch (e) {
    throw new QuorumError(
      'unsupported',
      `rigid registration needs @itk-wasm/elastix (${(e as Error).message.split('\n')[0]})`,
    );
  }
  const { parameterMap: defaults } = await elastix.defaultParameterMapNode('rigid', {
    numberOfResolutions: 3,
  });
  const parameterMap = defaults as Record<string, string[]>;
  // Mattes mutual information on random samples, 3 resolutions (the defaults), a fixed random seed
  // for reproducible results, trilinear for the result image as for world-coordinate resampling
  // (elastix's default cubic B-spline overshoots at edges), and the moving background outside it.
  // Recursive pyramids (smoothed and halved per level) instead of the default smoothing pyramids,
  // which smooth the full-size images at every level: on pat222 (240x240x155, 5° and 5 mm of
  // motion) 8 s instead of 11 s on this 2-core CPU, the same motion found (4.98°, 5.04 mm).
  Object.assign(parameterMap, {
    FixedImagePyramid: ['FixedRecursiveImagePyramid'],
    MovingImagePyramid: ['MovingRecursiveImagePyramid'],
    MaximumNumberOfIterations: ['250'],
    NumberOfSpatialSamples: ['4000'],
    RandomSeed: ['121212'],
    FinalBSplineInterpolationOrder: ['1'],
    ResampleInterpolator: ['FinalLinearInterpolator'],
    DefaultPixelValue: [String(backgroundValue(moving))],
    ResultImagePixelType: ['float'],
  });
  let out: Awaited<ReturnType<typeof elastix.elastixNode>>;
  try {
    out = await elastix.elastixNode([parameterMap], {
      fixed: toItk(fixed) as never,
      moving: toItk(moving) as never,
    });
  } catch (e) {
    throw new QuorumError(
      'unsupported',
      `rigid registration failed: ${String((e as Error).message ?? e)
        .split('\n')
        .slice(-3)
        .join(' ')}`,
      moving.source.path,
    );
  }
  const maps = out.transformParameterObject as unknown as Record<string, string[]>[];
  const parameters = (maps?.[0]?.TransformParameters ?? []).map(Number);
  const data = out.result?.data;
  if (parameters.length !== 6 || !(data instanceof Float32Array) || data.length !== fixed.data.length)
    throw new QuorumError(
      'unsupported',
      'rigid registration returned no usable transform or image',
      moving.source.path,
    );
  return {
    volume: {
      dims: [...fixed.dims] as Vec3,
      spacing: [...fixed.spacing] as Vec3,
      origin: [...fixed.origin] as Vec3,
      direction: [...fixed.direction] as Mat3,
      data,
      source: { ...moving.source, datatype: 'float32' },
    },
    rotationDeg: eulerAngleDeg(parameters),
    translationMm: Math.hypot(parameters[3], parameters[4], parameters[5]),
    parameters,
    seconds: (performance.now() - t0) / 1000,
  };
}

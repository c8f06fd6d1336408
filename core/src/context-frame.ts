import type { ModelFrame } from './model-frame.ts';

/** The channel whose neighbours are added: the first of the manifest's `channels` (FLAIR). */
const CONTEXT_CHANNEL = 0;

/**
 * Offsets of the neighbour slices, in input-channel order: -n..-1, then +1..+n
 * (models/train/context.py `offsets`).
 */
export function contextOffsets(context: number): number[] {
  const out: number[] = [];
  for (let o = -context; o <= context; o++) if (o !== 0) out.push(o);
  return out;
}

/**
 * The slices whose first channel follows slice `k`'s own channels (context.py
 * `neighbour_slices`): neighbours in the order of `slices`, whatever the slice thickness; past the
 * first or last slice the edge slice stands in. A slice outside `slices` (too little head to be
 * proposed, asked for by its index) is its own neighbour.
 */
export function contextSlices(slices: readonly number[], k: number, context: number): number[] {
  const p = slices.indexOf(k);
  if (p < 0) return contextOffsets(context).map(() => k);
  const last = slices.length - 1;
  return contextOffsets(context).map((o) => slices[Math.min(Math.max(p + o, 0), last)]);
}

/**
 * Through-plane context (the manifest's `context`): a frame whose input of slice k is the inner
 * frame's input of k, then the first channel of each of `contextSlices(k)`. Only `channels`,
 * `foregroundFloor` and `input` change, so any preprocessing gets it. A class with its fields
 * as own properties, like the preprocessors' frames, so that `{ ...frame, input }` keeps them.
 */
class ContextFrame implements ModelFrame {
  readonly inputSize: [number, number];
  readonly channels: number;
  readonly dims: ModelFrame['dims'];
  readonly sliceAxis: ModelFrame['sliceAxis'];
  readonly slices: number[];
  readonly nativeSlices: number[];
  readonly foregroundFloor?: readonly number[];
  readonly modelPoint?: ModelFrame['modelPoint'];
  private readonly own: number;

  constructor(
    private readonly inner: ModelFrame,
    private readonly context: number,
  ) {
    const extra = 2 * context;
    this.inputSize = inner.inputSize;
    this.own = inner.channels;
    this.channels = inner.channels + extra;
    this.dims = inner.dims;
    this.sliceAxis = inner.sliceAxis;
    this.slices = inner.slices;
    this.nativeSlices = inner.nativeSlices;
    const floor = inner.foregroundFloor;
    if (floor) this.foregroundFloor = [...floor, ...Array<number>(extra).fill(floor[CONTEXT_CHANNEL])];
    if (inner.modelPoint) this.modelPoint = inner.modelPoint.bind(inner);
  }

  input(k: number, out?: Float32Array): Float32Array {
    const [H, W] = this.inputSize;
    const HW = H * W;
    const result = out ?? new Float32Array(this.channels * HW);
    this.inner.input(k, result.subarray(0, this.own * HW));
    const plane = new Float32Array(this.own * HW);
    for (const [i, kk] of contextSlices(this.inner.slices, k, this.context).entries()) {
      this.inner.input(kk, plane);
      result.set(plane.subarray(CONTEXT_CHANNEL * HW, (CONTEXT_CHANNEL + 1) * HW), (this.own + i) * HW);
    }
    return result;
  }

  toNative(map: Float32Array, k: number, out?: Float32Array): Float32Array {
    return this.inner.toNative(map, k, out);
  }
}

/** The frame with `context` neighbour slices each side; the frame itself when 0. */
export function withContext(frame: ModelFrame, context: number): ModelFrame {
  return context === 0 ? frame : new ContextFrame(frame, context);
}

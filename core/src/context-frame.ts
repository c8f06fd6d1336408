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
 * `neighbour_slices`): neighbours `stride` places apart in the order of `slices`; past the first
 * or last slice the edge slice stands in. A slice outside `slices` (too little head to be
 * proposed, asked for by its index) is its own neighbour.
 */
export function contextSlices(slices: readonly number[], k: number, context: number, stride = 1): number[] {
  const p = slices.indexOf(k);
  if (p < 0) return contextOffsets(context).map(() => k);
  const last = slices.length - 1;
  return contextOffsets(context).map((o) => slices[Math.min(Math.max(p + o * stride, 0), last)]);
}

/** The largest context stride contextStride picks. */
export const MAX_CONTEXT_STRIDE = 8;
/** Pixels both slices of a pair must have in the foreground for the pair to count. */
const MIN_PAIR_PIXELS = 500;

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * d(s) for s = 1, 2, ...: the median over the frame's slice pairs s apart of the mean absolute
 * difference of their first channel's input, over the pixels both have above the foreground floor
 * (pairs with fewer than 500 are left out); stops at `upTo` or where no pair counts. context.py
 * `slice_differences`.
 */
export function sliceDifferences(frame: ModelFrame, upTo = MAX_CONTEXT_STRIDE): number[] {
  const [H, W] = frame.inputSize;
  const HW = H * W;
  const floor = frame.foregroundFloor?.[CONTEXT_CHANNEL] ?? Number.NEGATIVE_INFINITY;
  const planes = frame.slices.map((k) =>
    frame.input(k).slice(CONTEXT_CHANNEL * HW, (CONTEXT_CHANNEL + 1) * HW),
  );
  const out: number[] = [];
  for (let s = 1; s <= upTo; s++) {
    const pairs: number[] = [];
    for (let p = 0; p + s < planes.length; p++) {
      const [a, b] = [planes[p], planes[p + s]];
      let sum = 0;
      let n = 0;
      for (let i = 0; i < HW; i++)
        if (a[i] > floor && b[i] > floor) {
          sum += Math.abs(a[i] - b[i]);
          n++;
        }
      if (n >= MIN_PAIR_PIXELS) pairs.push(sum / n);
    }
    if (!pairs.length) break;
    out.push(median(pairs));
  }
  return out;
}

/**
 * The stride of the context neighbours (manifest `contextMinChange`): the smallest s whose d(s)
 * reaches `minChange`, else the largest s measured (a stack too short or too uniform). Adjacent
 * slices of the TCGA-LGG heads the network learned on differ by 0.07-0.15 (they are thick), those of
 * 1 mm BraTS volumes by 0.03-0.05; a thick stack resampled onto thin slices has neighbours that
 * barely differ, and the network, reading a head with skull whose neighbours agree, under-segments
 * (models/quorum-wt-v2/context-stride-plan.json).
 */
export function contextStride(frame: ModelFrame, minChange: number | undefined): number {
  return minChange === undefined ? 1 : strideOf(sliceDifferences(frame), minChange);
}

/** The stride contextStride picks from the differences d(1), d(2), ... */
export function strideOf(d: readonly number[], minChange: number): number {
  const s = d.findIndex((x) => x >= minChange);
  return s >= 0 ? s + 1 : Math.max(1, d.length);
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
    /** Places apart in `slices` that the neighbours are read (contextStride). */
    readonly stride = 1,
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
    for (const [i, kk] of contextSlices(this.inner.slices, k, this.context, this.stride).entries()) {
      this.inner.input(kk, plane);
      result.set(plane.subarray(CONTEXT_CHANNEL * HW, (CONTEXT_CHANNEL + 1) * HW), (this.own + i) * HW);
    }
    return result;
  }

  toNative(map: Float32Array, k: number, out?: Float32Array): Float32Array {
    return this.inner.toNative(map, k, out);
  }
}

/**
 * The frame with `context` neighbour slices each side, read `contextStride(frame, minChange)`
 * slices apart; the frame itself when 0.
 */
export function withContext(frame: ModelFrame, context: number, minChange?: number): ModelFrame {
  return context === 0 ? frame : new ContextFrame(frame, context, contextStride(frame, minChange));
}

/** The stride a frame reads its context at (contextStride), or undefined for a frame without context. */
export function frameContextStride(frame: ModelFrame): number | undefined {
  return frame instanceof ContextFrame ? frame.stride : undefined;
}

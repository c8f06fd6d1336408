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
 * `foregroundFloor` and `input` change, so any preprocessing gets it.
 */
export function withContext(frame: ModelFrame, context: number): ModelFrame {
  if (context === 0) return frame;
  const [H, W] = frame.inputSize;
  const HW = H * W;
  const own = frame.channels;
  const extra = 2 * context;
  const floor = frame.foregroundFloor;
  const wrapped: ModelFrame = Object.create(frame);
  Object.defineProperties(wrapped, {
    channels: { value: own + extra },
    foregroundFloor: {
      value: floor && [...floor, ...Array<number>(extra).fill(floor[CONTEXT_CHANNEL])],
    },
    input: {
      value(k: number, out?: Float32Array): Float32Array {
        const result = out ?? new Float32Array((own + extra) * HW);
        frame.input(k, result.subarray(0, own * HW));
        const plane = new Float32Array(own * HW);
        for (const [i, kk] of contextSlices(frame.slices, k, context).entries()) {
          frame.input(kk, plane);
          result.set(plane.subarray(CONTEXT_CHANNEL * HW, (CONTEXT_CHANNEL + 1) * HW), (own + i) * HW);
        }
        return result;
      },
    },
  });
  return wrapped;
}

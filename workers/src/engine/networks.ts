import * as ort from 'onnxruntime-node';

/** The shape of one batch's rows: `channels` image planes of h x w each. */
export interface RowShape {
  channels: number;
  h: number;
  w: number;
}

/** Rows `rows` of `src` (each `size` values), packed in that order. */
export function gatherRows(src: Float32Array, rows: readonly number[], size: number): Float32Array {
  const dst = new Float32Array(rows.length * size);
  for (const [i, r] of rows.entries()) dst.set(src.subarray(r * size, (r + 1) * size), i * size);
  return dst;
}

/**
 * The model's networks (one ONNX session each, core/src/manifest.ts networkFiles) on a batch of
 * rows, each row on its own network. One network, or every row on one: the batch goes as it is.
 * Several: each network's rows are gathered, run and scattered back, so a deep ensemble costs
 * what one network does on the same rows (plus the copies, small beside a UNet).
 */
export class NetworkRunner {
  /**
   * Each image's rows per network, gathered once: an image stays the same over a chain's steps, and
   * comes with the same rows (sample-batch.ts: the batch's members, or the first step's leaders).
   */
  private readonly images = new WeakMap<Float32Array, Map<number, ort.Tensor>>();

  constructor(private readonly sessions: readonly ort.InferenceSession[]) {}

  /**
   * pred [n, 1, h, w] for image [n, channels, h, w] and x_t [n, 1, h, w] at timestep t, row r on
   * network `networkOfRow[r]`.
   */
  async run(
    image: Float32Array,
    xt: Float32Array,
    t: number,
    networkOfRow: readonly number[],
    { channels, h, w }: RowShape,
  ): Promise<Float32Array> {
    const n = networkOfRow.length;
    const hw = h * w;
    const forward = async (s: number, img: ort.Tensor, x: Float32Array, rows: number) => {
      const res = await this.sessions[s].run({
        image: img,
        x_t: new ort.Tensor('float32', x, [rows, 1, h, w]),
        t: new ort.Tensor('float32', new Float32Array(rows).fill(t), [rows]),
      });
      return res.pred.data as Float32Array;
    };
    const first = networkOfRow[0] ?? 0;
    if (networkOfRow.every((s) => s === first))
      return forward(first, new ort.Tensor('float32', image, [n, channels, h, w]), xt, n);
    const out = new Float32Array(n * hw);
    const cached = this.images.get(image) ?? new Map<number, ort.Tensor>();
    this.images.set(image, cached);
    for (let s = 0; s < this.sessions.length; s++) {
      const rows = networkOfRow.flatMap((net, r) => (net === s ? [r] : []));
      if (!rows.length) continue;
      let img = cached.get(s);
      if (!img) {
        img = new ort.Tensor('float32', gatherRows(image, rows, channels * hw), [
          rows.length,
          channels,
          h,
          w,
        ]);
        cached.set(s, img);
      }
      const pred = await forward(s, img, gatherRows(xt, rows, hw), rows.length);
      for (const [i, r] of rows.entries()) out.set(pred.subarray(i * hw, (i + 1) * hw), r * hw);
    }
    return out;
  }
}

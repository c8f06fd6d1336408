/**
 * onnxruntime session options and batch sizes for the shipped model on this machine (issue 15:
 * "ORT graph options and thread settings measured per machine"). One forward batch of real-sized
 * inputs (the engine's whole-frame batch: 40 images, and a typical head crop), best of 3 after a
 * warm-up, per option set, each next to the engine's own settings (workers/src/engine/providers.ts)
 * measured just before it: the note says how far it is from them.
 * Env: QUORUM_BENCH_INT8=DIR adds the int8 QDQ model of models/train/quantize_int8.py --out DIR.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DEFAULT_MODEL_DIR } from '../workers/src/client.ts';
import { PROVIDERS } from '../workers/src/engine/providers.ts';
import { readManifest } from '../workers/src/engine/session.ts';
import type { BenchRow } from './types.ts';

export const title = 'onnxruntime options and batch sizes (shipped model, CPU)';

async function perImage(
  file: string,
  opts: ort.InferenceSession.SessionOptions,
  B: number,
  CI: number,
  h: number,
  w: number,
): Promise<number> {
  const session = await ort.InferenceSession.create(file, opts);
  try {
    const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
    const feeds = {
      image: new ort.Tensor('float32', fill(B * CI * h * w), [B, CI, h, w]),
      x_t: new ort.Tensor('float32', fill(B * h * w), [B, 1, h, w]),
      t: new ort.Tensor('float32', new Float32Array(B).fill(500), [B]),
    };
    await session.run(feeds);
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await session.run(feeds);
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    return best / B;
  } finally {
    await session.release();
  }
}

export async function run(): Promise<BenchRow[]> {
  const manifest = readManifest(DEFAULT_MODEL_DIR);
  const file = join(DEFAULT_MODEL_DIR, manifest.file);
  const [H, W] = manifest.preprocess.inputSize;
  // the sequences, the neighbour slices' first sequence below and above (manifest context), the clicks
  const CI =
    manifest.channels.length + 2 * (manifest.context ?? 0) + (manifest.prompts?.channels.length ?? 0);
  const cores = cpus().length;
  const engine = PROVIDERS.get('cpu').sessionOptions(cores);
  const sets: [string, ort.InferenceSession.SessionOptions, number, number, number][] = [
    ['engine settings (40 x 120x120)', engine, 40, H, W],
    ['1 intra-op thread', { ...engine, intraOpNumThreads: 1 }, 40, H, W],
    [
      'spinning threads (the ORT default)',
      { ...engine, extra: { session: { intra_op: { allow_spinning: '1' } } } },
      40,
      H,
      W,
    ],
    ['graph optimisation basic', { ...engine, graphOptimizationLevel: 'basic' }, 40, H, W],
    ['graph optimisation extended', { ...engine, graphOptimizationLevel: 'extended' }, 40, H, W],
    ['no CPU memory arena', { ...engine, enableCpuMemArena: false }, 40, H, W],
    ['batch 10 images', engine, 10, H, W],
    ['batch 20 images', engine, 20, H, W],
    ['batch 80 images', engine, 80, H, W],
    ['engine settings, 96x96 crop, 62 images', engine, 62, 96, 96],
  ];
  const int8 = process.env.QUORUM_BENCH_INT8;
  const runs: [string, string, ort.InferenceSession.SessionOptions, number, number, number][] = sets.map(
    ([name, opts, B, h, w]) => [name, file, opts, B, h, w],
  );
  if (int8) runs.push(['int8 QDQ model, engine settings', join(int8, manifest.file), engine, 40, H, W]);
  const rows: BenchRow[] = [];
  for (const [i, [name, path, opts, B, h, w]] of runs.entries()) {
    // the engine settings again just before each option: a shared CPU's load drifts within minutes
    const base = await perImage(file, engine, 40, CI, H, W);
    const s = i === 0 ? base : await perImage(path, opts, B, CI, h, w);
    rows.push({
      group: 'ort',
      name: `s per forward: ${name}`,
      value: s,
      unit: 's',
      note: `${((s / base - 1) * 100).toFixed(0)}% vs the engine settings measured just before; ${cores} cores`,
    });
  }
  return rows;
}

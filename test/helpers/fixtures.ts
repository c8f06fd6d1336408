import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './paths.ts';

/**
 * Reference fixtures written by models/train/make_fixtures.py from the weights behind the shipped
 * model: <name>.json = {meta, arrays: {name: {offset, shape}}}, <name>.bin = float32 LE, C order.
 */
export interface Fixture {
  meta: Record<string, unknown>;
  arrays: Record<string, { data: Float32Array; shape: number[] }>;
}

export function loadFixture(name: string, model = 'quorum-wt-2ch'): Fixture {
  const dir = join(REPO, 'test', 'fixtures', model);
  const index = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as {
    meta: Record<string, unknown>;
    arrays: Record<string, { offset: number; shape: number[] }>;
  };
  const bin = readFileSync(join(dir, `${name}.bin`));
  const arrays: Fixture['arrays'] = {};
  for (const [k, { offset, shape }] of Object.entries(index.arrays)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const copy = new Float32Array(n);
    for (let i = 0; i < n; i++) copy[i] = bin.readFloatLE(offset + 4 * i);
    arrays[k] = { data: copy, shape };
  }
  return { meta: index.meta, arrays };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

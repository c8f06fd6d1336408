/**
 * Training with random context strides (train.py --context-strides, models/train/context.py
 * add_to_cache + at_stride) must hand the network the neighbours the app reads at that stride
 * (core/src/context-frame.ts contextSlices, what contextMinChange picks): the same slices, clamped at
 * the ends of each case's stack. Python builds a cache of two stacks whose FLAIR is each slice's
 * number and gathers every slice's neighbours at strides 1-3; they must be contextSlices' choice.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contextSlices } from '../../core/src/context-frame.ts';
import { PYTHON, REPO } from '../helpers/paths.ts';

const STACKS = [23, 6]; // slices per case: a TCGA-like stack and a stack shorter than the widest reach

const script = `
import json, sys
import numpy as np, torch
sys.path.insert(0, ${JSON.stringify(join(REPO, 'models', 'train'))})
import context
sizes = ${JSON.stringify(STACKS)}
n = sum(sizes)
image = np.zeros((n, 2, 1, 1), np.float32)
image[:, 0, 0, 0] = np.arange(n)
case = np.repeat(np.arange(len(sizes)), sizes)
cache = torch.from_numpy(context.add_to_cache(image, case, np.zeros(n, bool), 1, (1, 2, 3)))
out = {}
for i, s in enumerate((1, 2, 3)):
    x = context.at_stride(cache, torch.full((n,), i), 2, 1)
    out[s] = x[:, 2:, 0, 0].long().tolist()
print(json.dumps(out))
`;

describe('context strides in training = the app', () => {
  it('every slice of two stacks, strides 1, 2, 3: the neighbours contextSlices reads', () => {
    const got = JSON.parse(execFileSync(PYTHON, ['-c', script], { encoding: 'utf8' })) as Record<
      string,
      number[][]
    >;
    for (const s of [1, 2, 3]) {
      const want: number[][] = [];
      let first = 0;
      for (const size of STACKS) {
        const slices = Array.from({ length: size }, (_, k) => first + k);
        for (const k of slices) want.push(contextSlices(slices, k, 1, s));
        first += size;
      }
      expect(got[s]).toEqual(want);
    }
    // not a stride that changes nothing: slice 10 reads 9/11, 8/12, 7/13
    expect([1, 2, 3].map((s) => got[s][10])).toEqual([
      [9, 11],
      [8, 12],
      [7, 13],
    ]);
  });
});

import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { networkFiles, networkOfMember } from '../../core/src/manifest.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import type { Volume } from '../../core/src/volume.ts';
import { EngineClient } from '../../workers/src/client.ts';
import { recommendedCrop } from '../../workers/src/engine/crop.ts';
import { isFlippedMember } from '../../workers/src/engine/sample-batch.ts';
import { readManifest } from '../../workers/src/engine/session.ts';
import { DEFAULT_MODEL_DIR } from '../../workers/src/host/paths.ts';
import type { ChannelVolume, EngineSliceResult, ProposeRequest } from '../../workers/src/protocol.ts';
import { PAT3, REPO } from '../helpers/paths.ts';

const ch = (v: Volume): ChannelVolume => ({ ...v, data: v.data as Float32Array });

/**
 * Crop to the head (issue 15) on a real held-out case with the shipped model: the network runs on
 * each slice's head box only, and the masks pasted back match the whole-frame run's (GroupNorm
 * sees fewer background pixels in a crop, so they are close, not equal: the README gives the
 * Dice on the 15 held-out cases).
 */
describe('crop to the head (real onnxruntime-node, pat0003)', () => {
  let engine: EngineClient;
  let volumes: ProposeRequest['volumes'];
  beforeAll(async () => {
    const [flair, t1c] = await Promise.all([
      loadVolume(join(PAT3, 'Flair_subtrMeanDivStd.nii.gz')),
      loadVolume(join(PAT3, 'T1c_subtrMeanDivStd.nii.gz')),
    ]);
    volumes = { flair: ch(flair), t1c: ch(t1c) };
    engine = await EngineClient.start({ device: 'cpu' });
  });
  afterAll(() => engine.close());

  async function run(crop: 'head' | 'off', slices: [number, number]) {
    const out: EngineSliceResult[] = [];
    const s = await engine.propose(
      { caseName: 'pat0003', volumes, slices, members: 3, steps: 3, seed: 2, crop },
      (e) => e.type === 'slice' && out.push(e.result as EngineSliceResult),
    ).result;
    out.sort((a, b) => a.k - b.k);
    return { s, out };
  }

  it('gives the whole frame masks within a tolerance, on fewer pixels', async () => {
    // tumour slices through the middle of the head (measured with v2.3: Dice 0.979, 87% of the
    // pixels; v2.2 0.99; v3 0.987, 77%) and small cross-sections near its top (v2.3 0.939, 56%;
    // v2.2 0.95; v3 0.912, 50%), where GroupNorm's statistics move most; an 8 px margin (v2.3:
    // 0.929 and 0.876) would fail. v3 moves more near the top, which is why it ships with crop
    // 'off' (manifest recommended.crop; README "v3"); the crop stays an option
    for (const [slices, minDice, maxFraction] of [
      [[72, 77], 0.97, 0.95],
      [[130, 135], 0.9, 0.7],
    ] as [[number, number], number, number][]) {
      const head = await run('head', slices);
      const off = await run('off', slices);
      expect(head.s.crop).toBe('head');
      expect(off.s.crop).toBe('off');
      // the whole frame runs every pixel, but for the members sharing the first step (3 members,
      // 3 steps: one run per kind of member at t = 999 instead of 3, manifest
      // recommended.shareFirstStep; a kind is a member's network and whether it is flipped)
      const shipped = readManifest(DEFAULT_MODEL_DIR);
      const rec = shipped.recommended;
      const kinds = new Set(
        [0, 1, 2].map(
          (m) =>
            `${networkOfMember(m, 3, networkFiles(shipped).length)} ${isFlippedMember(m, !!rec.flipMembers)}`,
        ),
      );
      const firstRuns = rec.shareFirstStep ? kinds.size : 3;
      expect(off.s.frameFraction).toBeCloseTo((firstRuns + 2 * 3) / (3 * 3), 9);
      expect(head.s.frameFraction / off.s.frameFraction).toBeLessThan(maxFraction);
      expect(head.out.map((r) => r.k)).toEqual(off.out.map((r) => r.k));
      let both = 0;
      let sum = 0;
      for (const [i, h] of head.out.entries()) {
        const o = off.out[i];
        for (let p = 0; p < h.mask.length; p++) {
          both += h.mask[p] & o.mask[p];
          sum += h.mask[p] + o.mask[p];
        }
      }
      const dice = (2 * both) / sum;
      console.log(
        `crop head vs off, slices ${slices.join(':')}: mask Dice ${dice.toFixed(3)} over ${sum / 2} pixels, ${head.s.frameFraction.toFixed(2)} of the frame`,
      );
      // both runs find the tumour, and the crop's outline stays that of the whole frame
      expect(sum / 2).toBeGreaterThan(1000);
      expect(dice).toBeGreaterThan(minDice);
    }
  });

  it("a request that names no crop runs as the manifest's recommended.crop says, else the head box", async () => {
    const shipped = recommendedCrop(readManifest(DEFAULT_MODEL_DIR));
    const s = await engine.propose({ caseName: 'pat0003', volumes, slices: [130, 130], members: 2, steps: 2 })
      .result;
    expect(s.crop).toBe(shipped);
    // the same network with the field taken out: the head box
    const dir = mkdtempSync(join(tmpdir(), 'quorum-crop-model-'));
    try {
      const manifest = JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, 'manifest.json'), 'utf8'));
      delete manifest.recommended.crop;
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      for (const f of networkFiles(manifest)) symlinkSync(join(DEFAULT_MODEL_DIR, f), join(dir, f));
      const other = await EngineClient.start({ device: 'cpu', modelDir: dir });
      try {
        const t = await other.propose({
          caseName: 'pat0003',
          volumes,
          slices: [130, 130],
          members: 2,
          steps: 2,
        }).result;
        expect(t.crop).toBe('head');
        expect(t.frameFraction).toBeLessThan(1);
      } finally {
        other.close();
      }
      // a value the engine does not know is refused, naming the manifest
      manifest.recommended.crop = 'brain';
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      expect(() => readManifest(dir)).toThrow(
        /manifest\.json: recommended\.crop is 'brain' \(allowed: head, off\)/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the whole frame for a model without a head threshold (v1)', async () => {
    const v1 = await EngineClient.start({ device: 'cpu', modelDir: join(REPO, 'models', 'quorum-wt-2ch') });
    try {
      const s = await v1.propose({ caseName: 'pat0003', volumes, slices: [75, 75], members: 2, steps: 2 })
        .result;
      expect(s.crop).toBe('off');
      expect(s.frameFraction).toBe(1);
    } finally {
      v1.close();
    }
  });
});

import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QuorumError } from '../../core/src/errors.ts';
import { networkFiles, networkOfMember } from '../../core/src/manifest.ts';
import { loadModel, readManifest } from '../../workers/src/engine/session.ts';
import { REPO } from '../helpers/paths.ts';

const SHIPPED = join(REPO, 'models', 'quorum-wt-v2');

describe('the members of a deep ensemble (manifest "networks")', () => {
  it('go to the networks in contiguous blocks, as even as the count allows', () => {
    const split = (members: number, networks: number) =>
      Array.from({ length: members }, (_, m) => networkOfMember(m, members, networks));
    expect(split(10, 2)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    expect(split(3, 2)).toEqual([0, 0, 1]);
    expect(split(10, 1)).toEqual(new Array(10).fill(0));
    for (let networks = 1; networks <= 4; networks++)
      for (let members = networks; members <= 16; members++) {
        const counts = new Array(networks).fill(0);
        for (const n of split(members, networks)) counts[n]++;
        // every network runs, and no two differ by more than one member
        expect(Math.min(...counts)).toBeGreaterThanOrEqual(1);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        expect(split(members, networks)).toEqual([...split(members, networks)].sort((a, b) => a - b));
      }
  });

  it('with flipped members, leave each network both flipped and unflipped members (10 of 2)', () => {
    for (const net of [0, 1]) {
      const mine = [...Array(10).keys()].filter((m) => networkOfMember(m, 10, 2) === net);
      expect(mine.some((m) => m % 2 === 1) && mine.some((m) => m % 2 === 0)).toBe(true);
    }
  });

  it('come from `file` alone when the manifest names no networks', () => {
    expect(networkFiles({ file: 'model.onnx' })).toEqual(['model.onnx']);
    expect(networkFiles({ file: 'model.onnx', networks: ['model.onnx', 'model-2.onnx'] })).toEqual([
      'model.onnx',
      'model-2.onnx',
    ]);
  });
});

describe('a model folder naming networks', () => {
  const dirs: string[] = [];
  const folder = (edit: (m: Record<string, unknown>) => void, copies: string[] = ['model.onnx']) => {
    const dir = mkdtempSync(join(tmpdir(), 'quorum-networks-'));
    dirs.push(dir);
    const m = JSON.parse(readFileSync(join(SHIPPED, 'manifest.json'), 'utf8'));
    edit(m);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    for (const f of copies) copyFileSync(join(SHIPPED, networkFiles(readManifest(SHIPPED))[0]), join(dir, f));
    return dir;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('is refused, naming the manifest, when "networks" is not a list of file names', () => {
    for (const bad of [[], 'model.onnx', ['model.onnx', 3]]) {
      const dir = folder((m) => {
        m.networks = bad;
      });
      expect(() => readManifest(dir)).toThrow(QuorumError);
      expect(() => readManifest(dir)).toThrow(/networks must be a list of ONNX file names/);
    }
  });

  it('is refused, naming the missing file, when one of its networks is not there', async () => {
    const dir = folder((m) => {
      m.file = 'model.onnx';
      m.networks = ['model.onnx', 'model-2.onnx'];
    });
    const err = await loadModel(dir, 'cpu').catch((e: QuorumError) => e);
    expect(err).toBeInstanceOf(QuorumError);
    expect((err as QuorumError).file).toBe(join(dir, 'model-2.onnx'));
    expect((err as QuorumError).message).toMatch(/missing/);
  });

  it('loads one session per network, in manifest order', async () => {
    const dir = folder(
      (m) => {
        m.file = 'a.onnx';
        m.networks = ['a.onnx', 'b.onnx'];
      },
      ['a.onnx', 'b.onnx'],
    );
    const model = await loadModel(dir, 'cpu');
    expect(model.sessions).toHaveLength(2);
    expect(model.sessions[1].inputNames).toEqual(model.sessions[0].inputNames);
  });
});

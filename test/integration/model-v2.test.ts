import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readManifest } from '../../workers/src/engine/session.ts';
import { quorumWith } from '../helpers/cli.ts';
import { DATA, REPO } from '../helpers/paths.ts';

/**
 * The shipped default model on a TCGA-LGG patient from the site it never saw in training
 * (models/quorum-wt-v2/manifest.json training.split: site FG is held out whole). The scan is as the
 * site stored it: skull present, 8-bit, thick slices. Through the CLI a user would run.
 */
const PATIENT = join(DATA, 'tcga-lgg', 'TCGA_FG_6689_20020326');
const MODEL_DIR = join(REPO, 'models', 'quorum-wt-v2');

describe('v2 model on an unseen site (quorum propose + quorum evaluate)', () => {
  const out = mkdtempSync(join(tmpdir(), 'quorum-v2-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  const cli = (...args: string[]) => {
    const r = quorumWith({}, ...args);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  it('is the default model, and the patient is held out of its training', () => {
    const manifest = readManifest(MODEL_DIR);
    expect(manifest.training.heldOut).toContain('TCGA_FG_6689_20020326');
    expect(manifest.training.subjects.some((s) => s.startsWith('TCGA_FG_'))).toBe(false);
  });

  it('whole-volume Dice >= 0.7 against the expert mask, with a case confidence in report.json', () => {
    cli('propose', PATIENT, '--out', out, '--seed', '0');
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.model.name).toBe('quorum-wt-v2');
    expect(report.confidence).toBeGreaterThanOrEqual(0);
    expect(report.confidence).toBeLessThanOrEqual(1);
    const r = JSON.parse(
      cli('evaluate', '--pred', join(out, 'mask.nii.gz'), '--truth', join(PATIENT, 'seg.nii.gz')),
    );
    // a floor; the measured figure for this patient and every held-out dataset is in the README
    expect(r.dice).toBeGreaterThanOrEqual(0.7);
    // no scalp rim or far-away false positives: the proposal is within 2x the lesion volume
    expect(r.predVolumeMl).toBeLessThan(2 * r.truthVolumeMl);
    // a whole volume: ~20 s on an idle 2-core machine; the limit only guards against a hang
  }, 240_000);
});

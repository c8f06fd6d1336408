/**
 * A case is recognised and checked before any engine starts (real BraTS files under the names
 * sites give them): a BraTS-toolkit folder (*_fla_bet, *_t1c_bet) opens; a case without a FLAIR
 * the names reveal is refused at once, naming what is missing and every file with why it was or
 * was not taken, and leaves no --out folder behind (propose and propose-dataset).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCase, requireSequences } from '../../core/src/node/case.ts';
import { quorum } from '../helpers/cli.ts';
import { DATA } from '../helpers/paths.ts';

const PAT222 = join(DATA, 'brats-4seq', 'brats2015-tcia-pat222');
const tmp = mkdtempSync(join(tmpdir(), 'quorum-case-check-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A case folder of symlinks to pat222's files under other names. */
function caseOf(name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  for (const [link, target] of Object.entries(files)) symlinkSync(join(PAT222, target), join(dir, link));
  return dir;
}

describe('case recognition and the check before the engine', () => {
  it('a BraTS-toolkit folder (*_fla_bet, *_t1c_bet, *_t1_bet, *_t2_bet, a mask, a seg) opens with every choice explained', async () => {
    const dir = caseOf('toolkit', {
      'pat_fla_bet.nii.gz': 'Flair.nii.gz',
      'pat_t1c_bet.nii.gz': 'T1c.nii.gz',
      'pat_t1_bet.nii.gz': 'T1.nii.gz',
      'pat_t2_bet.nii.gz': 'T2.nii.gz',
      'pat_bet_mask.nii.gz': 'BrainExtractionMask.nii.gz',
      'pat_seg.nii.gz': 'segmentation.nii.gz',
    });
    const c = await openCase(dir);
    expect(Object.keys(c.sequences).sort()).toEqual(['flair', 't1', 't1c', 't2']);
    expect(c.labelPath).toBe(join(dir, 'pat_seg.nii.gz'));
    expect(c.warnings).toEqual([]);
    const by = Object.fromEntries(c.inventory.map((i) => [i.source.split('/').pop(), i]));
    expect(by['pat_fla_bet.nii.gz']).toMatchObject({ sequence: 'flair', taken: true });
    expect(by['pat_fla_bet.nii.gz'].reason).toMatch(/^file name "pat_fla_bet.nii.gz" \("fla"\): T2-FLAIR/);
    expect(by['pat_t1c_bet.nii.gz']).toMatchObject({ sequence: 't1c', taken: true });
    expect(by['pat_bet_mask.nii.gz']).toMatchObject({ role: 'mask', taken: false });
    expect(by['pat_seg.nii.gz']).toMatchObject({ sequence: 'label', taken: true });
    expect(c.sequences.flair?.source.sequenceReason).toBe(by['pat_fla_bet.nii.gz'].reason);
    expect(() => requireSequences(c, ['flair', 't1c'])).not.toThrow();
  });

  it('no recognisable FLAIR: propose refuses before the engine, names what is missing and why each file was (not) taken, no --out', () => {
    const dir = caseOf('no-flair', {
      'pat_0001.nii.gz': 'Flair.nii.gz',
      'pat_t1c_bet.nii.gz': 'T1c.nii.gz',
      'pat_bet_mask.nii.gz': 'BrainExtractionMask.nii.gz',
    });
    const out = join(tmp, 'out-no-flair');
    const r = quorum('propose', dir, '--out', out, '--slices', '70:70');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const err = r.stderr;
    expect(err).toContain(`quorum propose: ${dir}: the model needs flair + t1c; missing: flair\nfound:\n`);
    expect(err).toMatch(
      / {2}skipped pat_0001\.nii\.gz: sequence not recognised from file name "pat_0001\.nii\.gz"/,
    );
    expect(err).toMatch(
      / {2}t1c {5}pat_t1c_bet\.nii\.gz: file name "pat_t1c_bet\.nii\.gz" \("t1c"\): T1-weighted/,
    );
    expect(err).toMatch(/ {2}skipped pat_bet_mask\.nii\.gz: .*a mask/);
    expect(err).toContain('assign files explicitly with --flair FILE --t1c FILE');
    expect(err).not.toMatch(/device:|engine/); // no engine was started
    expect(existsSync(out)).toBe(false);
  });

  it('a FLAIR alone: the refusal says how to propose on it anyway (the FLAIR as both, or the T1 where there is one), and only then; a T2 is said to be no FLAIR', async () => {
    const c = await openCase(caseOf('flair-only', { 'flair.nii.gz': 'Flair.nii.gz' }));
    expect(() => requireSequences(c, ['flair', 't1c'])).toThrow(
      /missing: t1c\n[\s\S]*with a FLAIR only, give it as both \(--flair FILE --t1c FILE\)/,
    );
    // with a T1 (no contrast) beside the FLAIR, the T1 in the T1c's place: README, the numbers in case.ts
    const withT1 = await openCase(
      caseOf('flair-t1', { 'flair.nii.gz': 'Flair.nii.gz', 't1.nii.gz': 'T1.nii.gz' }),
    );
    expect(() => requireSequences(withT1, ['flair', 't1c'])).toThrow(
      new RegExp(
        `missing: t1c\\n[\\s\\S]*give the T1 \\(no contrast\\) in its place: --t1c ${join(tmp, 'flair-t1', 't1.nii.gz')}`,
      ),
    );
    expect(() => requireSequences(withT1, ['flair', 't1c'])).not.toThrow(/FLAIR only/);
    const t1cOnly = await openCase(caseOf('t1c-only', { 't1c.nii.gz': 'T1c.nii.gz' }));
    expect(() => requireSequences(t1cOnly, ['flair', 't1c'])).toThrow(/missing: flair/);
    expect(() => requireSequences(t1cOnly, ['flair', 't1c'])).not.toThrow(/FLAIR only/);
    expect(() => requireSequences(t1cOnly, ['flair', 't1c'])).not.toThrow(/stand-in/);
    // a T2 but no FLAIR: the refusal says the T2 is no stand-in (README, the numbers in case.ts)
    const t2 = await openCase(caseOf('t1c-t2', { 't1c.nii.gz': 'T1c.nii.gz', 't2.nii.gz': 'T2.nii.gz' }));
    expect(() => requireSequences(t2, ['flair', 't1c'])).toThrow(
      /missing: flair\n[\s\S]*the T2 \(t2\.nii\.gz\) is no stand-in for the FLAIR: given as the FLAIR on two BraTS cases it scored 0\.115/,
    );
  });

  it('propose-dataset: the refused case is an error row with the reason, and gets no folder of its own', () => {
    const ds = join(tmp, 'ds');
    mkdirSync(ds);
    symlinkSync(join(tmp, 'no-flair'), join(ds, 'no-flair'));
    const out = join(tmp, 'out-ds');
    const r = quorum(
      'propose-dataset',
      ds,
      '--out',
      out,
      '--slices',
      '70:70',
      '--members',
      '1',
      '--steps',
      '1',
    );
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1) as string)).toMatchObject({
      cases: 1,
      done: 0,
      errors: 1,
    });
    expect(r.stderr).toMatch(/no-flair: error: .*missing: flair/);
    expect(readdirSync(out).filter((f) => !f.startsWith('.'))).toEqual(['summary.csv']);
  });
});

import type { SequenceName } from './volume.ts';

/**
 * Guess the MRI sequence from a file name (BraTS conventions) and/or a DICOM SeriesDescription.
 * Rules are ordered: the first that matches wins, so the more specific ones (T1 post-contrast,
 * T2-FLAIR) come before the general ones (T1, T2). Callers let the user override the guess.
 */
const RULES: Array<[SequenceName, RegExp]> = [
  ['flair', /flair|t2[-_ ]?f(?![a-z])|dark[-_ ]?fluid|\bfl(?:air)?[-_ ]?t2|tirm/],
  [
    't1c',
    /t1[-_ ]?(?:ce|c|gd|post|contrast|\+c|km)(?![a-z])|t1ce|t1gd|post[-_ ]?(?:gd|contrast)|\+c\b|gado|mprage[-_ ]?(?:post|gd)|contrast/,
  ],
  ['t1', /t1[-_ ]?n(?![a-z])|t1[-_ ]?w?(?![a-z0-9])|t1$|mprage|spgr|bravo|t1w/],
  ['t2', /t2[-_ ]?w?(?![a-z0-9*])|t2$|t2w|tse|fse/],
];

function normalise(s: string): string {
  // drop directories and extensions; lower-case; keep separators for word boundaries
  const base = s.split(/[\\/]/).pop() ?? s;
  return base
    .toLowerCase()
    .replace(/\.(nii|hdr|img|dcm|gz|nrrd|mha)$/g, '')
    .replace(/\.(nii|hdr|img)$/g, '');
}

export function detectSequence(name: string, seriesDescription?: string): SequenceName {
  for (const text of [seriesDescription, name]) {
    if (!text) continue;
    const s = normalise(text);
    for (const [seq, re] of RULES) if (re.test(s)) return seq;
  }
  return 'unknown';
}

/** Files that are labels or masks, not sequences (BraTS seg, DeepMedic OTMultiClass, brain masks). */
export function isLabelFile(name: string): boolean {
  return /(?:^|[-_.])(seg|label|labels|otmulticlass|gt|truth)(?:[-_.]|$)|otmulticlass/i.test(
    name.split(/[\\/]/).pop() ?? name,
  );
}

export function isBrainMaskFile(name: string): boolean {
  return /brain[-_]?mask|brainmask/i.test(name.split(/[\\/]/).pop() ?? name);
}

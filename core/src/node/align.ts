import { basename } from 'node:path';
import { QuorumError } from '../errors.ts';
import { sameGrid } from '../geometry.ts';
import { type Registration, SEQUENCE_KINDS } from '../lists.ts';
import { backgroundValue, resampleToGrid } from '../resample.ts';
import { duplicateSequenceWarnings, unusualWarnings } from '../unusual.ts';
import type { SequenceName, Vec3, Volume } from '../volume.ts';
import type { Case } from './case.ts';
import type { Registered } from './register.ts';

/** How one sequence (or the label) was brought onto the case's reference grid. */
export interface SequenceAlignment {
  sequence: SequenceName | 'label';
  file: string;
  /** Why this file or series was taken as this sequence. */
  reason?: string;
  /** The sequence whose grid everything is on (the first of flair, t1c, t1, t2 present). */
  reference: SequenceName;
  action: 'reference' | 'same grid' | 'resampled' | 'registered';
  /** How, when resampled or registered. */
  method?: string;
  /**
   * The rigid transform found, when registered: its rotation and translation from the header's
   * placement, and where elastix ran ('this process' for the CLI, the engine process for the app).
   */
  registration?: { rotationDeg: number; translationMm: number; parameters: number[]; ranIn: string };
  /** Percentage of the reference grid's voxels inside this sequence's field of view. */
  overlapPct?: number;
  /** Angle between its axes and the reference's, ignoring axis order and flips (degrees). */
  angleDeg?: number;
  /** Its own grid, as read. */
  grid: { dims: Vec3; spacing: Vec3 };
  /** Set to its background outside the skull-stripped reference's brain (see maskToForeground). */
  maskedToReference?: boolean;
  /** What is unusual about it as read (core/src/unusual.ts); also in the case's warnings. */
  unusual?: string[];
}

export interface AlignOptions {
  /**
   * 'rigid': register every sequence onto the reference (mutual information, elastix) for a
   * patient who moved between series. Default: through world coordinates only.
   */
  register?: Registration;
  /**
   * Who runs the registration. Default: elastix in this process (core/src/node/register.ts,
   * imported only then). The app's host passes one that asks the engine process
   * (workers/src/host/register-case.ts), so elastix never runs on the host's event loop.
   */
  registrar?: Registrar;
}

/** Registers `moving` onto `fixed`'s grid; the result's volume is on `fixed`'s grid. */
export type Registrar = (fixed: Volume, moving: Volume) => Promise<Registered>;

const inThisProcess: Registrar = async (fixed, moving) =>
  (await import('./register.ts')).registerRigid(fixed, moving);

/**
 * The background of a skull-stripped volume: its most frequent value when that one value fills
 * over a fifth of the grid (BraTS-style files: 0, or a negative constant after z-scoring). Raw
 * scans have noisy air with no such value and give undefined.
 */
function skullStrippedBackground(v: Volume): { value: number } | undefined {
  const counts = new Map<number, number>();
  const step = Math.max(1, Math.floor(v.data.length / 200_000));
  let n = 0;
  for (let i = 0; i < v.data.length; i += step, n++) counts.set(v.data[i], (counts.get(v.data[i]) ?? 0) + 1);
  let best = 0;
  let value = 0;
  for (const [x, k] of counts) if (k > best) [best, value] = [k, x];
  return best > 0.2 * n ? { value } : undefined;
}

/**
 * Interpolation smears a skull-stripped sequence's brain edge half a voxel (of its own, maybe
 * 5 mm, grid) outwards. Models that find the brain as "differs from the background in any
 * channel" would then take that halo for brain and normalise over it, so outside the reference's
 * brain the resampled sequence is set back to its own background. Returns the voxels changed.
 */
function maskToForeground(v: Volume, ref: Volume, refBackground: number, bg: number): number {
  let changed = 0;
  for (let i = 0; i < v.data.length; i++)
    if (ref.data[i] === refBackground && v.data[i] !== bg) {
      v.data[i] = bg;
      changed++;
    }
  return changed;
}

/**
 * Said of every sequence resampled by its header: a patient who moved between the series stays
 * moved. Measured (robustness.py t1c_moved, 2026-12-07): a T1c moved 3° and 3.6 mm cost two TCGA
 * heads 0.053 and 0.063 Dice; rigid registration gave all of it back and changed nothing on the
 * cases as stored.
 */
export const MOVED_HINT =
  'if the patient moved between these series, register them (--register rigid; in the app, Align sequences: rigid registration)';

/** The reference grid is the first sequence present in SEQUENCE_KINDS order (FLAIR first). */
const REFERENCE_ORDER: readonly SequenceName[] = SEQUENCE_KINDS;

const fmt = (v: number[], digits = 2) => v.map((x) => +x.toFixed(digits)).join('x');

/**
 * Puts every sequence and the label on the reference grid. One already on it (within 1e-3 mm) is
 * kept as read; any other is resampled through world coordinates (trilinear; nearest neighbour for
 * the label) and the case gets a warning saying so, with the share of the reference grid it covers
 * and the angle between the grids. Never silent, never a refusal: a hospital study is always like
 * this. With `register: 'rigid'` every sequence but the reference is registered onto it instead
 * (the label is not: it belongs to the grid it was drawn on).
 */
export async function alignGrids(c: Case, opts: AlignOptions = {}): Promise<Case> {
  const refName = REFERENCE_ORDER.find((s) => c.sequences[s]);
  if (!refName) throw new QuorumError('missing-sequence', 'no MRI sequence found', c.root);
  const ref = c.sequences[refName] as Volume;
  const refBackground = skullStrippedBackground(ref);
  const entries: [SequenceName | 'label', Volume][] = [
    ...REFERENCE_ORDER.filter((s) => c.sequences[s]).map(
      (s) => [s, c.sequences[s] as Volume] as [SequenceName, Volume],
    ),
    ...(c.label ? [['label', c.label] as ['label', Volume]] : []),
  ];
  c.warnings.push(...duplicateSequenceWarnings(entries.filter(([s]) => s !== 'label')));
  for (const [seq, v] of entries) {
    const grid = { dims: [...v.dims] as Vec3, spacing: [...v.spacing] as Vec3 };
    const reason =
      seq === 'label'
        ? c.inventory.find((i) => i.sequence === 'label' && i.taken)?.reason
        : v.source.sequenceReason;
    const unusual = seq === 'label' ? [] : unusualWarnings(v);
    const name =
      v.source.format === 'dicom' ? `series "${v.source.description ?? ''}"` : basename(v.source.path);
    // how the file was read (a 4-D file's first volume, NaN read as background, ...), then what is unusual in it
    const read = seq === 'label' ? [] : (v.source.warnings ?? []);
    for (const w of [...read, ...unusual]) c.warnings.push(`${seq} (${name}): ${w}`);
    const base = {
      sequence: seq,
      file: v.source.path,
      reason,
      reference: refName,
      grid,
      ...(unusual.length ? { unusual } : {}),
    };
    if (v === ref) {
      c.alignment.push({ ...base, action: 'reference' });
      continue;
    }
    const register = opts.register === 'rigid' && seq !== 'label';
    if (!register && sameGrid(ref, v)) {
      c.alignment.push({ ...base, action: 'same grid' });
      continue;
    }
    const nearest = seq === 'label';
    const fill = backgroundValue(v);
    // The world-coordinate relation is said either way: how far the header put the two apart.
    const r = resampleToGrid(v, ref, { interpolation: nearest ? 'nearest' : 'linear', fill });
    const overlapPct = Math.round(r.overlap * 1000) / 10;
    const angleDeg = Math.round(r.angleDeg * 10) / 10;
    const moved = register ? await (opts.registrar ?? inThisProcess)(ref, v) : undefined;
    const out = moved?.volume ?? r.volume;
    const masked = !nearest && refBackground ? maskToForeground(out, ref, refBackground.value, fill) : 0;
    const round = (x: number) => Math.round(x * 10) / 10;
    c.alignment.push({
      ...base,
      action: moved ? 'registered' : 'resampled',
      ...(masked ? { maskedToReference: true } : {}),
      method: moved
        ? 'rigid registration (Mattes mutual information, 3 resolutions, elastix), trilinear'
        : nearest
          ? 'world coordinates, nearest neighbour'
          : 'world coordinates, trilinear',
      overlapPct,
      angleDeg,
      ...(moved
        ? {
            registration: {
              rotationDeg: round(moved.rotationDeg),
              translationMm: round(moved.translationMm),
              parameters: moved.parameters,
              ranIn: moved.ranIn ?? 'this process',
            },
          }
        : {}),
    });
    if (seq === 'label') c.label = out;
    else c.sequences[seq] = out;
    const frames = [ref, v].map((x) => x.source.dicom?.frameOfReferenceUID);
    const what = `${seq} (${basename(v.source.path)}, ${v.dims.join('x')} at ${fmt(v.spacing)} mm)`;
    c.warnings.push(
      (moved
        ? `${what} registered rigidly onto the ${refName} grid (mutual information, elastix): ` +
          `rotated ${round(moved.rotationDeg)}° and moved ${round(moved.translationMm)} mm from where its header put it; `
        : `${what} is not on the ${refName} grid (${ref.dims.join('x')} at ${fmt(ref.spacing)} mm): resampled onto it ` +
          `through world coordinates (${nearest ? 'nearest neighbour' : 'trilinear'}, no registration); `) +
        `it covers ${overlapPct}% of the ${refName} grid; its axes are ${angleDeg}° from ${refName}'s` +
        (masked ? `; cut to ${refName}'s brain (skull-stripped: its constant background)` : '') +
        (r.overlap < 0.5 ? '; less than half overlaps: check that these series belong together' : '') +
        (frames[0] && frames[1] && frames[0] !== frames[1]
          ? '; their DICOM frames of reference differ, so their world coordinates may not correspond'
          : '') +
        (moved || nearest ? '' : `; ${MOVED_HINT}`),
    );
  }
  return c;
}

import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { QuorumError } from '../errors.ts';
import { sameGrid } from '../geometry.ts';
import { backgroundValue, resampleToGrid } from '../resample.ts';
import { classifySeries, type SeriesRole } from '../sequence.ts';
import { unusualWarnings } from '../unusual.ts';
import type { SequenceName, Vec3, Volume } from '../volume.ts';
import { loadVolume } from './load.ts';

/** One file or DICOM series looked at while opening a case, and what became of it. */
export interface CaseItem {
  /** The file, or the DICOM series as `series <n> "<description>"`. */
  source: string;
  role: SeriesRole | 'explicit';
  /** What it was recognised as ('label' for an annotation; 'unknown' when nothing). */
  sequence: SequenceName | 'label';
  taken: boolean;
  /** Why it was taken or not: the recognition's evidence and rule, or what else decided. */
  reason: string;
}

/** How one sequence (or the label) was brought onto the case's reference grid. */
export interface SequenceAlignment {
  sequence: SequenceName | 'label';
  file: string;
  /** Why this file or series was taken as this sequence. */
  reason?: string;
  /** The sequence whose grid everything is on (the first of flair, t1c, t1, t2 present). */
  reference: SequenceName;
  action: 'reference' | 'same grid' | 'resampled';
  /** How, when resampled: through world (LPS) coordinates, no registration. */
  method?: 'world coordinates, trilinear' | 'world coordinates, nearest neighbour';
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

/** One patient examination: sequences on one grid, and an expert label if present. */
export interface Case {
  id: string;
  root: string;
  sequences: Partial<Record<SequenceName, Volume>>;
  label?: Volume;
  labelPath?: string;
  warnings: string[];
  /** Every file or series looked at, taken or not, and why. */
  inventory: CaseItem[];
  /** Per sequence (and label): on the reference grid as read, or resampled onto it. */
  alignment: SequenceAlignment[];
}

export type CaseInput = string | Partial<Record<'flair' | 't1' | 't1c' | 't2', string>>;

const NIFTI = /\.(nii|nii\.gz|hdr|hdr\.gz)$/i;

/**
 * Opens a case: a folder of NIfTI files named as sites name them (labels such as *seg*,
 * OTMultiClass* become `label`; masks are left out), a DICOM study folder (one series per
 * sequence; localisers, derived series and sequences the model does not use are skipped), a
 * single file, or explicit files per sequence. `inventory` says what was taken and why.
 * Sequences on other grids than the reference (FLAIR where present) are resampled onto it through
 * world coordinates, with a warning stating overlap and angle; `alignment` records what was done.
 */
export async function openCase(input: CaseInput): Promise<Case> {
  if (typeof input !== 'string') {
    const entries = Object.entries(input) as [SequenceName, string][];
    return fromEntries(
      entries,
      'case',
      entries.map(([seq, file]) => ({
        source: file,
        role: 'explicit',
        sequence: seq,
        taken: true,
        reason: `assigned explicitly as ${seq}`,
      })),
    );
  }
  const root = resolve(input);
  if (!existsSync(root)) throw new QuorumError('not-found', 'no such file or folder', input);
  if (!statSync(root).isDirectory()) {
    const d = classifySeries({ fileName: basename(root) });
    const seq = d.role === 'sequence' ? d.sequence : 'flair';
    const item: CaseItem = {
      source: root,
      role: d.role,
      sequence: seq,
      taken: true,
      reason: d.role === 'sequence' ? d.reason : `${d.reason}; a single file is assumed to be FLAIR`,
    };
    const warnings = d.role === 'sequence' ? [] : [`${basename(root)}: ${d.reason}; assumed FLAIR`];
    return fromEntries([[seq, root]], root, [item], warnings);
  }
  const files = readdirSync(root)
    .filter((f) => NIFTI.test(f))
    .sort();
  if (files.length) {
    const entries: [SequenceName | 'label', string][] = [];
    const inventory: CaseItem[] = [];
    const warnings: string[] = [];
    for (const f of files) {
      const d = classifySeries({ fileName: f });
      const item: CaseItem = {
        source: join(root, f),
        role: d.role,
        sequence: d.sequence,
        taken: false,
        reason: d.reason,
      };
      inventory.push(item);
      if (d.role === 'unrecognised') warnings.push(`${f}: ${d.reason}; skipped`);
      if (d.role === 'label') {
        item.sequence = 'label';
        if (entries.some(([s]) => s === 'label')) item.reason += '; a label was already taken';
        else {
          item.taken = true;
          entries.push(['label', item.source]);
        }
      } else if (d.role === 'sequence') {
        const same = entries.find(([s]) => s === d.sequence);
        if (same)
          throw new QuorumError(
            'inconsistent-series',
            `two files look like ${d.sequence}: ${basename(same[1])} and ${f}; name one explicitly (--${d.sequence} FILE)`,
            root,
          );
        item.taken = true;
        entries.push([d.sequence, item.source]);
      }
    }
    return fromEntries(entries, root, inventory, warnings);
  }
  return fromDicom(root);
}

async function fromDicom(root: string): Promise<Case> {
  const { scanDicom, loadDicomSeries } = await import('./dicom-fs.ts');
  const series = await scanDicom(root);
  if (!series.length)
    throw new QuorumError('missing-sequence', 'no NIfTI files and no DICOM series in this folder', root);
  const c: Case = { id: basename(root), root, sequences: {}, warnings: [], inventory: [], alignment: [] };
  const items = series.map((s) => ({
    s,
    item: {
      source: `series ${s.seriesNumber} "${s.seriesDescription}"`,
      role: s.role,
      sequence: s.sequence,
      taken: false,
      reason: s.problem ? `${s.sequenceReason}; cannot be loaded: ${s.problem}` : s.sequenceReason,
    } as CaseItem,
  }));
  c.inventory = items.map((x) => x.item);
  for (const { item } of items)
    if (item.role === 'unrecognised') c.warnings.push(`${item.source}: ${item.reason}; skipped`);
  // Several series of one sequence (a 2-D axial and a 3-D sagittal T1c, a repeat): the one with
  // the smallest voxels, which loses least when brought onto the reference grid.
  const voxel = (s: (typeof series)[number]) =>
    s.spacing ? s.spacing[0] * s.spacing[1] * s.spacing[2] : Number.POSITIVE_INFINITY;
  for (const { s, item } of items) {
    if (s.role !== 'sequence' || s.problem) continue;
    const rivals = items.filter(
      (x) => x.s.role === 'sequence' && !x.s.problem && x.s.sequence === s.sequence,
    );
    const best = rivals.reduce((a, b) => (voxel(b.s) < voxel(a.s) ? b : a));
    if (best.s !== s) {
      item.reason += `; ${best.item.source} is also ${s.sequence}, with smaller voxels (${voxel(best.s).toFixed(2)} vs ${voxel(s).toFixed(2)} mm³): that one is used`;
      continue;
    }
    item.taken = true;
    const v = await loadDicomSeries(s.files, s.seriesInstanceUID);
    v.source.sequence = s.sequence;
    v.source.sequenceReason = s.sequenceReason;
    c.sequences[s.sequence] = v;
  }
  return alignGrids(c);
}

async function fromEntries(
  entries: [SequenceName | 'label', string][],
  root: string,
  inventory: CaseItem[],
  warnings: string[] = [],
): Promise<Case> {
  const c: Case = { id: basename(root), root, sequences: {}, warnings, inventory, alignment: [] };
  for (const [seq, file] of entries) {
    if (seq !== 'label' && c.sequences[seq]) {
      throw new QuorumError(
        'inconsistent-series',
        `two files look like ${seq}: ${basename(c.sequences[seq]!.source.path)} and ${basename(file)}; name one explicitly`,
        root,
      );
    }
    const v = await loadVolume(file);
    if (seq === 'label') {
      c.label = v;
      c.labelPath = file;
    } else {
      v.source.sequence = seq;
      v.source.sequenceReason = inventory.find((i) => i.source === file)?.reason;
      c.sequences[seq] = v;
    }
  }
  return alignGrids(c);
}

/** What `openCase` looked at, one line per file or series: taken or not, and why. */
export function inventoryLines(c: Pick<Case, 'inventory'>): string[] {
  return c.inventory.map(
    (i) =>
      `${i.taken ? (i.sequence === 'label' ? 'label' : i.sequence).padEnd(7) : 'skipped'} ${basename(i.source) === i.source ? i.source : basename(i.source)}: ${i.reason}`,
  );
}

/**
 * Refuses a case that lacks a sequence the model needs, before any engine starts: the error
 * names what is missing and lists every file or series found, with why it was or was not taken.
 */
export function requireSequences(c: Case, channels: SequenceName[]): void {
  const missing = channels.filter((s) => !c.sequences[s]);
  if (!missing.length) return;
  const found = inventoryLines(c);
  throw new QuorumError(
    'missing-sequence',
    `the model needs ${channels.join(' + ')}; missing: ${missing.join(', ')}\n` +
      (found.length ? `found:\n${found.map((l) => `  ${l}`).join('\n')}\n` : 'found nothing usable\n') +
      `assign files explicitly with ${channels.map((s) => `--${s} FILE`).join(' ')}`,
    c.root,
  );
}

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

const REFERENCE_ORDER: SequenceName[] = ['flair', 't1c', 't1', 't2'];

const fmt = (v: number[], digits = 2) => v.map((x) => +x.toFixed(digits)).join('x');

/**
 * Puts every sequence and the label on the reference grid. One already on it (within 1e-3 mm) is
 * kept as read; any other is resampled through world coordinates (trilinear; nearest neighbour for
 * the label) and the case gets a warning saying so, with the share of the reference grid it covers
 * and the angle between the grids. Never silent, never a refusal: a hospital study is always like this.
 */
function alignGrids(c: Case): Case {
  const refName = REFERENCE_ORDER.find((s) => c.sequences[s]);
  if (!refName) {
    const found = inventoryLines(c);
    throw new QuorumError(
      'missing-sequence',
      `no MRI sequence found${found.length ? `:\n${found.map((l) => `  ${l}`).join('\n')}` : ''}`,
      c.root,
    );
  }
  const ref = c.sequences[refName] as Volume;
  const refBackground = skullStrippedBackground(ref);
  const entries: [SequenceName | 'label', Volume][] = [
    ...REFERENCE_ORDER.filter((s) => c.sequences[s]).map(
      (s) => [s, c.sequences[s] as Volume] as [SequenceName, Volume],
    ),
    ...(c.label ? [['label', c.label] as ['label', Volume]] : []),
  ];
  for (const [seq, v] of entries) {
    const grid = { dims: [...v.dims] as Vec3, spacing: [...v.spacing] as Vec3 };
    const reason =
      seq === 'label'
        ? c.inventory.find((i) => i.sequence === 'label' && i.taken)?.reason
        : v.source.sequenceReason;
    const unusual = seq === 'label' ? [] : unusualWarnings(v);
    const name =
      v.source.format === 'dicom' ? `series "${v.source.description ?? ''}"` : basename(v.source.path);
    for (const w of unusual) c.warnings.push(`${seq} (${name}): ${w}`);
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
    if (sameGrid(ref, v)) {
      c.alignment.push({ ...base, action: 'same grid' });
      continue;
    }
    const nearest = seq === 'label';
    const fill = backgroundValue(v);
    const r = resampleToGrid(v, ref, { interpolation: nearest ? 'nearest' : 'linear', fill });
    const masked = !nearest && refBackground ? maskToForeground(r.volume, ref, refBackground.value, fill) : 0;
    const overlapPct = Math.round(r.overlap * 1000) / 10;
    const angleDeg = Math.round(r.angleDeg * 10) / 10;
    c.alignment.push({
      ...base,
      action: 'resampled',
      ...(masked ? { maskedToReference: true } : {}),
      method: nearest ? 'world coordinates, nearest neighbour' : 'world coordinates, trilinear',
      overlapPct,
      angleDeg,
    });
    if (seq === 'label') c.label = r.volume;
    else c.sequences[seq] = r.volume;
    const frames = [ref, v].map((x) => x.source.dicom?.frameOfReferenceUID);
    c.warnings.push(
      `${seq} (${basename(v.source.path)}, ${v.dims.join('x')} at ${fmt(v.spacing)} mm) is not on the ${refName} grid ` +
        `(${ref.dims.join('x')} at ${fmt(ref.spacing)} mm): resampled onto it through world coordinates ` +
        `(${nearest ? 'nearest neighbour' : 'trilinear'}, no registration); it covers ${overlapPct}% of the ${refName} grid; ` +
        `its axes are ${angleDeg}° from ${refName}'s` +
        (masked ? `; cut to ${refName}'s brain (skull-stripped: its constant background)` : '') +
        (r.overlap < 0.5 ? '; less than half overlaps: check that these series belong together' : '') +
        (frames[0] && frames[1] && frames[0] !== frames[1]
          ? '; their DICOM frames of reference differ, so their world coordinates may not correspond'
          : ''),
    );
  }
  return c;
}

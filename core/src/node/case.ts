import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { QuorumError } from '../errors.ts';
import { fillNonFinite } from '../finite.ts';
import { type SequenceKind, VOLUME_FILE } from '../lists.ts';
import { classifySeries, type SeriesRole } from '../sequence.ts';
import type { SequenceName, Volume } from '../volume.ts';
import { type AlignOptions, alignGrids, type SequenceAlignment } from './align.ts';
import { type Channel, caseChannelFiles, channelFile, fileChannels } from './channels.ts';
import { loadLabelVolume } from './labels-file.ts';
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

export type { AlignOptions, SequenceAlignment };

export type CaseInput = string | Partial<Record<SequenceKind, string>>;

/** A sequence or label to load: its file, and the volume of a multi-sequence 4-D file. */
type Entry = [SequenceName | 'label', string, number?];

const known = (c: Channel) => c.sequence !== 'unknown';

/** Entries and inventory lines of named channels, each sequence taken from its first channel. */
function namedEntries(channels: (Channel & { file: string })[]): { entries: Entry[]; items: CaseItem[] } {
  const entries: Entry[] = [];
  const items = channels.map((c): CaseItem => {
    const taken = known(c) && !entries.some(([s]) => s === c.sequence);
    if (taken) entries.push([c.sequence, c.file, c.volume]);
    const role = known(c) ? 'sequence' : 'unrecognised';
    const reason = taken || !known(c) ? c.reason : `${c.reason}; an earlier channel is ${c.sequence}`;
    return { source: c.file, role, sequence: c.sequence, taken, reason };
  });
  return { entries, items };
}

/**
 * The sequences inside one 4-D file whose volumes are named, or in the per-channel files of the
 * case one such file belongs to (core/src/node/channels.ts), as entries and inventory lines;
 * undefined for a 3-D file of no named case, or unnamed volumes (the first volume of a 4-D file is
 * then read as one sequence, with a warning).
 */
function channelEntries(file: string): { entries: Entry[]; items: CaseItem[] } | undefined {
  if (fileChannels(file)) return volumeEntries(file);
  const group = caseChannelFiles(file);
  return group.some(known) ? namedEntries(group) : undefined;
}

/** The named volumes of one 4-D file, as channelEntries; undefined for a 3-D file or unnamed volumes. */
function volumeEntries(file: string): { entries: Entry[]; items: CaseItem[] } | undefined {
  const found = fileChannels(file);
  return found?.channels.some(known) ? namedEntries(found.channels.map((c) => ({ ...c, file }))) : undefined;
}

/**
 * The cases a folder of files holds as a dataset (4-D files of named volumes, or nnU-Net channel
 * files of named channels, of more than one case): opening it as one case would mix patients.
 */
function casesInFolder(root: string, files: string[]): string[] {
  const ids = new Set<string>();
  for (const f of files) {
    const ch = channelFile(join(root, f));
    if (ch) {
      if (known(ch)) ids.add(ch.caseId);
    } else if (fileChannels(join(root, f))?.channels.some(known)) ids.add(f.replace(VOLUME_FILE, ''));
  }
  return [...ids].sort();
}

/**
 * Opens a case: a folder of NIfTI files named as sites name them (labels such as *seg*,
 * OTMultiClass* become `label`; masks are left out), a DICOM study folder (one series per
 * sequence; localisers, derived series and sequences the model does not use are skipped), a
 * single file, or explicit files per sequence. `inventory` says what was taken and why.
 * Sequences on other grids than the reference (FLAIR where present) are resampled onto it through
 * world coordinates, with a warning stating overlap and angle; `alignment` records what was done.
 */
export async function openCase(input: CaseInput, opts: AlignOptions = {}): Promise<Case> {
  if (typeof input !== 'string') {
    const entries = Object.entries(input) as [SequenceName, string][];
    return fromEntries(
      opts,
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
    const multi = channelEntries(root);
    if (multi) return fromEntries(opts, multi.entries, root, multi.items);
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
    return fromEntries(opts, [[seq, root]], root, [item], warnings);
  }
  const files = readdirSync(root)
    .filter((f) => VOLUME_FILE.test(f))
    .sort();
  if (files.length) {
    const ids = casesInFolder(root, files);
    if (ids.length > 1) {
      const shown = ids.length > 3 ? `${ids.slice(0, 3).join(', ')}, …` : ids.join(', ');
      throw new QuorumError(
        'inconsistent-series',
        `this folder holds ${ids.length} cases (${shown}), not one: propose them all with \`quorum propose-dataset ${input}\`, or one by giving one of its files`,
        root,
      );
    }
    const entries: Entry[] = [];
    const inventory: CaseItem[] = [];
    const warnings: string[] = [];
    for (const f of files) {
      const multi = volumeEntries(join(root, f));
      if (multi) {
        for (const [seq, file, volume] of multi.entries) {
          const same = entries.find(([s]) => s === seq);
          if (same)
            throw new QuorumError(
              'inconsistent-series',
              `two files look like ${seq}: ${basename(same[1])} and ${f}; name one explicitly (--${seq} FILE)`,
              root,
            );
          entries.push([seq, file, volume]);
        }
        inventory.push(...multi.items);
        continue;
      }
      const ch = channelFile(join(root, f));
      if (ch && known(ch)) {
        const same = entries.find(([s]) => s === ch.sequence);
        inventory.push({
          source: ch.file,
          role: 'sequence',
          sequence: ch.sequence,
          taken: !same,
          reason: ch.reason,
        });
        if (!same) entries.push([ch.sequence, ch.file]);
        else inventory[inventory.length - 1].reason += `; ${basename(same[1])} is ${ch.sequence} already`;
        continue;
      }
      const d = classifySeries({ fileName: f });
      const item: CaseItem = {
        source: join(root, f),
        role: d.role,
        sequence: d.sequence,
        taken: false,
        // an unnamed channel file: say what would name it
        reason: d.role === 'unrecognised' && ch ? `${d.reason}; ${ch.reason}` : d.reason,
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
    return fromEntries(opts, entries, root, inventory, warnings);
  }
  return fromDicom(root, opts);
}

async function fromDicom(root: string, opts: AlignOptions): Promise<Case> {
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
    fillNonFinite(v); // as fromEntries does for a file's scan (float pixel data may hold NaN)
    v.source.sequence = s.sequence;
    v.source.sequenceReason = s.sequenceReason;
    c.sequences[s.sequence] = v;
  }
  return finish(c, opts);
}

async function fromEntries(
  opts: AlignOptions,
  entries: Entry[],
  root: string,
  inventory: CaseItem[],
  warnings: string[] = [],
): Promise<Case> {
  const c: Case = { id: basename(root), root, sequences: {}, warnings, inventory, alignment: [] };
  for (const [seq, file, volume] of entries) {
    if (seq !== 'label' && c.sequences[seq]) {
      throw new QuorumError(
        'inconsistent-series',
        `two files look like ${seq}: ${basename(c.sequences[seq]!.source.path)} and ${basename(file)}; name one explicitly`,
        root,
      );
    }
    // a label's layers (a 3D Slicer segmentation with overlapping segments) are merged into one map
    const v = seq === 'label' ? (await loadLabelVolume(file)).volume : await loadVolume(file, { volume });
    if (seq === 'label' && v.data.length === 1) {
      c.warnings.push(
        `${basename(file)}: an empty segmentation (one voxel, as 3D Slicer saves one): no label`,
      );
      continue;
    }
    if (seq === 'label') {
      c.label = v;
      c.labelPath = file;
    } else {
      // a scan's NaN is its background (outside a masked image); a label's or a proposal's is an error
      fillNonFinite(v);
      v.source.sequence = seq;
      v.source.sequenceReason = inventory.find(
        (i) => i.source === file && i.taken && i.sequence === seq,
      )?.reason;
      c.sequences[seq] = v;
    }
  }
  return finish(c, opts);
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
      `assign files explicitly with ${channels.map((s) => `--${s} FILE`).join(' ')}` +
      (missing.length === 1 && missing[0] === 't1c' && c.sequences.flair ? noT1cAdvice(c) : '') +
      (missing.includes('flair') && c.sequences.t2 ? noFlairAdvice(c.sequences.t2.source.path) : ''),
    c.root,
  );
}

/**
 * How to propose without a T1c. A T1 without contrast in its place: on the two BraTS cases that have
 * one (pat222, BrainLesion) the whole-tumour proposal scored as with their T1c (0.857 and 0.866
 * against 0.849 and 0.861, 2026-12-07), the FLAIR given twice 0.854 and 0.808. The FLAIR twice is
 * what 5 of the 44 TCGA-LGG training patients had (their source filled a missing T1c so).
 */
function noT1cAdvice(c: Case): string {
  const t1 = c.sequences.t1?.source.path;
  const flairTwice =
    'give it as both (--flair FILE --t1c FILE): the model was trained on some cases so; expect a weaker proposal (its warnings say the T1c is a copy)';
  return t1
    ? `\nwith no T1c, give the T1 (no contrast) in its place: --t1c ${t1} (on two BraTS cases as good as their T1c for the whole tumour: 0.857 and 0.866 against 0.849 and 0.861; the FLAIR as both scored 0.854 and 0.808)`
    : `\nwith a FLAIR only, ${flairTwice}`;
}

/**
 * Without a FLAIR, a T2 is no stand-in, though its lesions are bright too: so is its CSF, which the
 * FLAIR suppresses. On the two BraTS cases that have one (2026-12-07), the T2 given as the FLAIR
 * scored 0.115 (pat222, 24 mL proposed of 198) and 0.604 (BrainLesion), against 0.849 and 0.861 with
 * their FLAIR. Said so that nobody tries it unwarned.
 */
function noFlairAdvice(t2Path: string): string {
  return `\nthe T2 (${basename(t2Path)}) is no stand-in for the FLAIR: given as the FLAIR on two BraTS cases it scored 0.115 and 0.604 against 0.849 and 0.861 (its CSF is bright, the FLAIR's is not)`;
}

/** A case with no sequence is refused with what was found; any other is put on one grid. */
function finish(c: Case, opts: AlignOptions): Promise<Case> {
  if (!Object.keys(c.sequences).length) {
    const found = inventoryLines(c);
    throw new QuorumError(
      'missing-sequence',
      `no MRI sequence found${found.length ? `:\n${found.map((l) => `  ${l}`).join('\n')}` : ''}`,
      c.root,
    );
  }
  return alignGrids(c, opts);
}

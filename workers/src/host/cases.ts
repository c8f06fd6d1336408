import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { CaseInfo, CaseSequenceInfo, OpenCaseInput, VolumeGeometry } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { sameGrid } from '../../../core/src/geometry.ts';
import { loadVolume } from '../../../core/src/node/load.ts';
import { detectSequence, isBrainMaskFile, isLabelFile } from '../../../core/src/sequence.ts';
import type { SequenceName, Volume } from '../../../core/src/volume.ts';
import { importSource } from './paths.ts';

/** The case shape of core/src/node/case.ts (A's openCase); repeated here so the host compiles alone. */
export interface LoadedCase {
  id: string;
  root: string;
  sequences: Partial<Record<SequenceName, Volume>>;
  label?: Volume;
  labelPath?: string;
  warnings: string[];
}

type OpenCaseFn = (
  input: string | Partial<Record<'flair' | 't1' | 't1c' | 't2', string>>,
) => Promise<LoadedCase>;

/**
 * A's openCase (core/src/node/case.ts) when it is there; else a small equivalent that covers
 * NIfTI folders, lists of files and explicit mappings, so the host works while A's lands.
 */
async function coreOpenCase(): Promise<OpenCaseFn | undefined> {
  try {
    const mod = await importSource<{ openCase?: OpenCaseFn }>('core/src/node/case.ts');
    return mod.openCase;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw e;
  }
}

const NIFTI = /\.(nii|nii\.gz|hdr|hdr\.gz)$/i;

async function fallbackOpen(
  files: string[],
  root: string,
  explicit?: Record<string, string>,
): Promise<LoadedCase> {
  const c: LoadedCase = { id: root, root, sequences: {}, warnings: [] };
  const entries: [SequenceName | 'label', string][] = explicit
    ? (Object.entries(explicit) as [SequenceName, string][])
    : files
        .filter((f) => NIFTI.test(f) && !isBrainMaskFile(f))
        .map((f) => [isLabelFile(f) ? 'label' : detectSequence(f), f]);
  for (const [seq, file] of entries) {
    const v = await loadVolume(file);
    if (seq === 'label') {
      c.label = v;
      c.labelPath = file;
    } else if (c.sequences[seq]) c.warnings.push(`${basename(file)}: a second ${seq} file, ignored`);
    else {
      v.source.sequence = seq;
      c.sequences[seq] = v;
    }
  }
  const vols = Object.values(c.sequences);
  if (vols.length === 0) throw new QuorumError('missing-sequence', 'no MRI sequence found', root);
  for (const v of [...vols.slice(1), ...(c.label ? [c.label] : [])])
    if (!sameGrid(vols[0], v))
      throw new QuorumError(
        'inconsistent-series',
        `${basename(v.source.path)} is not on the grid of ${basename(vols[0].source.path)}`,
        root,
      );
  return c;
}

export async function loadCase(input: OpenCaseInput): Promise<LoadedCase> {
  try {
    return await loadCaseUnchecked(input);
  } catch (e) {
    // A missing optional module (e.g. DICOM support not built) is a user-facing limitation, not a crash.
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND')
      throw new QuorumError(
        'unsupported',
        `this build cannot read it (${(e as Error).message.split('\n')[0]})`,
        String(input),
      );
    throw e;
  }
}

async function loadCaseUnchecked(input: OpenCaseInput): Promise<LoadedCase> {
  const open = await coreOpenCase();
  if (Array.isArray(input)) {
    if (input.length === 0) throw new QuorumError('bad-argument', 'no files given');
    if (input.length === 1) return loadCaseUnchecked(input[0]);
    // Several DICOM files (no NIfTI among them): the series they belong to is their folder.
    if (!input.some((f) => NIFTI.test(f))) return loadCaseUnchecked(resolve(input[0], '..'));
    // Several NIfTI files: map them by name, then open as an explicit mapping.
    const mapping: Record<string, string> = {};
    for (const f of input.map((p) => resolve(p))) {
      if (isBrainMaskFile(f)) continue;
      const s = isLabelFile(f) ? 'label' : detectSequence(f);
      if (s !== 'unknown' && s !== 'label') mapping[s] = f;
    }
    if (Object.keys(mapping).length === 0)
      throw new QuorumError('missing-sequence', 'none of the files could be assigned a sequence', input[0]);
    return open ? open(mapping) : fallbackOpen([], resolve(input[0], '..'), mapping);
  }
  if (typeof input === 'string') {
    const p = resolve(input);
    if (!existsSync(p)) throw new QuorumError('not-found', 'no such file or folder', p);
    if (open) return open(p);
    if (statSync(p).isDirectory()) {
      const files = readdirSync(p).map((f) => join(p, f));
      if (!files.some((f) => NIFTI.test(f))) {
        const v = await loadVolume(p); // DICOM folder: one series
        return { id: p, root: p, sequences: { [v.source.sequence]: v }, warnings: [] };
      }
      return fallbackOpen(files, p);
    }
    const v = await loadVolume(p);
    const seq = v.source.sequence === 'unknown' ? detectSequence(p) : v.source.sequence;
    return { id: p, root: resolve(p, '..'), sequences: { [seq]: v }, warnings: [] };
  }
  const mapping = Object.fromEntries(Object.entries(input).map(([k, v]) => [k, resolve(v as string)]));
  const first = Object.values(mapping)[0];
  if (!first) throw new QuorumError('bad-argument', 'empty sequence mapping');
  return open ? open(mapping) : fallbackOpen([], resolve(first, '..'), mapping);
}

export function geometryOf(v: Volume): VolumeGeometry {
  return { dims: [...v.dims], spacing: [...v.spacing], origin: [...v.origin], direction: [...v.direction] };
}

/** The case volume every derived volume (mask, uncertainty) is written on. */
export function referenceVolume(c: LoadedCase, channels: SequenceName[] = []): Volume {
  for (const s of [...channels, 'flair', 't1c', 't1', 't2', 'unknown'] as SequenceName[])
    if (c.sequences[s]) return c.sequences[s] as Volume;
  throw new QuorumError('missing-sequence', 'the case has no volume', c.root);
}

export function describeCase(id: string, c: LoadedCase, modelChannels: SequenceName[]): CaseInfo {
  const ref = referenceVolume(c, modelChannels);
  // A case opened from explicit files may have no folder of its own: use the reference file's.
  if (!isAbsolute(c.root)) c.root = dirname(ref.source.path);
  const format = ref.source.format === 'dicom' ? 'dicom' : 'nifti';
  const sequences: CaseSequenceInfo[] = (Object.entries(c.sequences) as [SequenceName, Volume][]).map(
    ([sequence, v]) => ({
      sequence,
      path: v.source.path,
      format: v.source.format,
      description: v.source.description,
    }),
  );
  const dicom = ref.source.dicom;
  const name =
    format === 'dicom'
      ? dicom?.patientName || dicom?.patientID || basename(c.root)
      : basename(c.root).replace(NIFTI, '');
  const warnings = [...c.warnings];
  for (const v of Object.values(c.sequences)) for (const w of v?.source.warnings ?? []) warnings.push(w);
  return {
    id,
    name,
    root: c.root,
    format,
    geometry: geometryOf(ref),
    sequences,
    missingForModel: modelChannels.filter((s) => !c.sequences[s]),
    hasLabel: !!c.label,
    labelPath: c.labelPath,
    canExportDicomSeg: format === 'dicom' && (dicom?.sopInstanceUIDs?.length ?? 0) === ref.dims[2],
    warnings,
  };
}

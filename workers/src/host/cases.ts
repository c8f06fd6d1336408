import { basename, dirname, isAbsolute, resolve } from 'node:path';
import type { CaseInfo, CaseSequenceInfo, OpenCaseInput, VolumeGeometry } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { SEQUENCE_KINDS, VOLUME_FILE } from '../../../core/src/lists.ts';
import { type AlignOptions, type Case, openCase } from '../../../core/src/node/case.ts';
import { detectSequence, isBrainMaskFile, isLabelFile } from '../../../core/src/sequence.ts';
import type { SequenceName, Volume } from '../../../core/src/volume.ts';
import type { EngineClient } from '../client.ts';
import { canExportDicomSeg } from '../exports/dicom-seg.ts';
import { removeCaseFile } from './case-files.ts';
import type { OpenCase } from './propose-run.ts';
import { engineRegistrar, type ScheduledRegistration } from './register-case.ts';

export type LoadedCase = Case;

/** `opts.register` 'rigid' with `opts.registrar` from register-case.ts: registered in the engine. */
export async function loadCase(input: OpenCaseInput, opts: AlignOptions = {}): Promise<LoadedCase> {
  try {
    return await loadCaseUnchecked(input, opts);
  } catch (e) {
    // A missing optional module (e.g. DICOM support not built) is a user-facing limitation, not a crash.
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND')
      throw new QuorumError(
        'unsupported',
        `this build cannot read it (${(e as Error).message.split('\n')[0]})`,
        typeof input === 'string' ? input : JSON.stringify(input),
      );
    throw e;
  }
}

async function loadCaseUnchecked(input: OpenCaseInput, opts: AlignOptions): Promise<LoadedCase> {
  if (Array.isArray(input)) {
    if (input.length === 0) throw new QuorumError('bad-argument', 'no files given');
    if (input.length === 1) return openCase(resolve(input[0]), opts);
    // Several DICOM files (no image file among them): the series they belong to is their folder.
    if (!input.some((f) => VOLUME_FILE.test(f))) return openCase(resolve(input[0], '..'), opts);
    // Several NIfTI files: map them by name, then open as an explicit mapping.
    const mapping: Record<string, string> = {};
    for (const f of input.map((p) => resolve(p))) {
      if (isBrainMaskFile(f) || isLabelFile(f)) continue;
      const s = detectSequence(f);
      if (s !== 'unknown') mapping[s] = f;
    }
    if (Object.keys(mapping).length === 0)
      throw new QuorumError('missing-sequence', 'none of the files could be assigned a sequence', input[0]);
    return openCase(mapping, opts);
  }
  if (typeof input === 'string') return openCase(resolve(input), opts);
  const mapping = Object.fromEntries(Object.entries(input).map(([k, v]) => [k, resolve(v as string)]));
  if (!Object.keys(mapping).length) throw new QuorumError('bad-argument', 'empty sequence mapping');
  return openCase(mapping, opts);
}

export function geometryOf(v: Volume): VolumeGeometry {
  return { dims: [...v.dims], spacing: [...v.spacing], origin: [...v.origin], direction: [...v.direction] };
}

/** The case volume every derived volume (mask, uncertainty) is written on. */
export function referenceVolume(c: LoadedCase, channels: SequenceName[] = []): Volume {
  for (const s of [...channels, ...SEQUENCE_KINDS, 'unknown'] as SequenceName[])
    if (c.sequences[s]) return c.sequences[s] as Volume;
  throw new QuorumError('missing-sequence', 'the case has no volume', c.root);
}

export function describeCase(id: string, c: LoadedCase, modelChannels: SequenceName[]): CaseInfo {
  const ref = referenceVolume(c, modelChannels);
  // A case opened from explicit files may have no folder of its own: use the reference file's.
  if (!isAbsolute(c.root)) c.root = dirname(ref.source.path);
  const format = ref.source.format === 'dicom' ? 'dicom' : 'nifti';
  const sequences: CaseSequenceInfo[] = (Object.entries(c.sequences) as [SequenceName, Volume][]).map(
    ([sequence, v]) => {
      const a = c.alignment?.find((x) => x.sequence === sequence);
      return {
        sequence,
        path: v.source.path,
        format: v.source.format,
        description: v.source.description,
        reason: v.source.sequenceReason,
        grid: !a
          ? undefined
          : a.action === 'registered'
            ? `registered (rigid, mutual information, elastix in ${a.registration?.ranIn}) onto the ${a.reference} grid: rotated ${a.registration?.rotationDeg}°, moved ${a.registration?.translationMm} mm from where its header put it`
            : a.action === 'resampled'
              ? `resampled onto the ${a.reference} grid through world coordinates: covers ${a.overlapPct}% of it, axes ${a.angleDeg}° apart`
              : a.action === 'reference'
                ? 'the reference grid'
                : `on the ${a.reference} grid as read`,
      };
    },
  );
  const dicom = ref.source.dicom;
  const name =
    format === 'dicom'
      ? dicom?.patientName || dicom?.patientID || basename(c.root)
      : basename(c.root).replace(VOLUME_FILE, '');
  const warnings = [...c.warnings]; // with each sequence's reader warnings (core/src/node/align.ts)
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
    canExportDicomSeg: canExportDicomSeg(ref),
    warnings,
  };
}

/**
 * The user says which sequence a file of an open case is (the name did not tell, or told wrong):
 * the case is described anew, and the engine's copy of its channels is dropped.
 */
export function reassignSequence(
  c: OpenCase,
  path: string,
  sequence: SequenceName,
  modelChannels: SequenceName[],
): CaseInfo {
  const entry = (Object.entries(c.data.sequences) as [SequenceName, Volume][]).find(
    ([, v]) => v.source.path === path,
  );
  if (!entry) throw new QuorumError('bad-argument', 'this file is not part of the case', path);
  if (Object.values(c.data.sequences).filter((v) => v?.source.path === path).length > 1)
    throw new QuorumError(
      'unsupported',
      "this file holds several sequences (a 4-D file named by its dataset.json or the Decathlon's order): correct the names there and open the case again",
      path,
    );
  const [old, vol] = entry;
  if (old === sequence) return c.info;
  const other = c.data.sequences[sequence];
  delete c.data.sequences[old];
  if (other) {
    // Swap, as a user reassigning FLAIR <-> T1c expects.
    other.source.sequence = old;
    c.data.sequences[old] = other;
  }
  vol.source.sequence = sequence;
  c.data.sequences[sequence] = vol;
  // The engine's copy is by file: the next proposal writes the new channels under a new key.
  removeCaseFile(c.caseFile);
  c.caseFile = undefined;
  c.info = describeCase(c.info.id, c.data, modelChannels);
  return c.info;
}

/**
 * Reads a case to open; with `rigid` every sequence is registered in the engine process
 * (register-case.ts), each in its turn of the scheduler. Aborting `scheduled.signal` stops it:
 * it rejects with 'cancelled'.
 */
export async function loadCaseToOpen(
  input: OpenCaseInput,
  rigid: boolean,
  engine: () => Promise<EngineClient>,
  scheduled: ScheduledRegistration & { signal: AbortSignal },
): Promise<LoadedCase> {
  const name = typeof input === 'string' ? basename(input) : 'case';
  const data = await loadCase(input, {
    register: rigid ? 'rigid' : 'none',
    registrar: rigid ? engineRegistrar(engine, name, scheduled) : undefined,
  });
  if (scheduled.signal.aborted) throw new QuorumError('cancelled', 'opening cancelled');
  return data;
}

/**
 * Every list of allowed values, once. The types are derived from the lists, so a value missing
 * from a list is a compile error wherever it is used, and every place that shows or checks the
 * values (CLI validation and --help, renderer selects, host validation, engine) reads them here.
 *
 * Adding a value here makes the compiler point at what it needs: a sampler its factory in
 * core/src/diffusion/samplers.ts, an execution provider its entry in workers/src/engine/providers.ts,
 * an export format its writer in workers/src/exports/index.ts (each a `Record<Name, ...>`).
 */

/** Diffusion samplers (core/src/diffusion/samplers.ts). */
export const SAMPLERS = ['ddim', 'ddpm'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** onnxruntime execution providers the engine can run on (workers/src/engine/providers.ts). */
export const EXECUTION_PROVIDERS = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/**
 * Where the engine runs the network on a slice (workers/src/engine/crop.ts): 'head' only on the
 * head's bounding box plus a margin (the rest of the frame is background, std 0), 'off' the whole
 * model frame. The first is the default.
 */
export const CROP_MODES = ['head', 'off'] as const;
export type CropMode = (typeof CROP_MODES)[number];

/**
 * Small uncertain islands of a whole-volume proposal (core/src/islands.ts): 'drop' those the
 * model's rule names (its manifest's recommended.dropIslands; nothing without one), 'keep' them
 * all. The first is the default.
 */
export const ISLAND_MODES = ['drop', 'keep'] as const;
export type IslandMode = (typeof ISLAND_MODES)[number];
/** The proposal's edge (core/src/contrast-grow.ts): grown by the model's rule, or kept as proposed. */
export const EDGE_MODES = ['grow', 'keep'] as const;
export type EdgeMode = (typeof EDGE_MODES)[number];

/** What a user may ask for: a provider by name, or 'auto' (the platform's accelerators, then the CPU). */
export const DEVICES = ['auto', ...EXECUTION_PROVIDERS] as const;
export type Device = (typeof DEVICES)[number];

/**
 * MRI sequences a case can carry (core/src/sequence.ts recognises them), in order of preference
 * as the reference grid (core/src/node/align.ts): FLAIR first.
 */
export const SEQUENCE_KINDS = ['flair', 't1c', 't1', 't2'] as const;
export type SequenceKind = (typeof SEQUENCE_KINDS)[number];

/** Export formats (workers/src/exports/: one writer file each). */
export const EXPORT_FORMATS = [
  'nifti-mask',
  'nifti-uncertainty',
  'nifti-probability',
  'nifti-members',
  'dicom-seg',
  'slicer-seg',
  'report-json',
  'report-csv',
] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What every proposal folder holds whatever else is asked for (loadProposal reads them back). */
export const PROPOSAL_BASE_FORMATS: readonly ExportFormat[] = ['nifti-mask', 'nifti-uncertainty'];

/** Rigid registration choices of `openCase` (core/src/node/register.ts). */
export const REGISTRATIONS = ['none', 'rigid'] as const;
export type Registration = (typeof REGISTRATIONS)[number];

/** How a DIMSE node sends a study (workers/src/pacs/): C-GET on Quorum's association, or C-MOVE to Quorum's storage SCP. */
export const PACS_RETRIEVES = ['c-get', 'c-move'] as const;
export type PacsRetrieve = (typeof PACS_RETRIEVES)[number];

/**
 * Image file formats a volume is read from (core/src/node/load.ts: one reader each), with the file
 * endings that name them; a DICOM series is read from its folder or files, not by ending.
 */
export const VOLUME_FILE_FORMATS = {
  nifti: ['.nii', '.nii.gz', '.hdr', '.hdr.gz'],
  /** 3D Slicer's default (`.nrrd` attached, `.nhdr` with a detached data file). */
  nrrd: ['.nrrd', '.nhdr'],
  /** ITK's MetaImage (`.mha` one file, `.mhd` with a detached `.raw`/`.zraw`). */
  metaimage: ['.mha', '.mhd'],
} as const;
export type VolumeFileFormat = keyof typeof VOLUME_FILE_FORMATS;

/** A file name with one of the endings above (what a folder of images lists as images). */
export const VOLUME_FILE = new RegExp(
  `(${Object.values(VOLUME_FILE_FORMATS)
    .flat()
    .map((e) => e.replace(/\./g, '\\.'))
    .join('|')})$`,
  'i',
);

/** The format a file name's ending names, if any. */
export function volumeFileFormat(name: string): VolumeFileFormat | undefined {
  const lower = name.toLowerCase();
  for (const [f, endings] of Object.entries(VOLUME_FILE_FORMATS))
    if (endings.some((e) => lower.endsWith(e))) return f as VolumeFileFormat;
  return undefined;
}

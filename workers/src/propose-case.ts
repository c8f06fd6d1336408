import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { EdgeRule } from '../../core/src/contrast-grow.ts';
import { type Bidimensional, bidimensional } from '../../core/src/diameters.ts';
import { QuorumError } from '../../core/src/errors.ts';
import { finishProposal } from '../../core/src/finish-proposal.ts';
import { voxelVolumeMl } from '../../core/src/geometry.ts';
import type { DroppedIsland, IslandRule } from '../../core/src/islands.ts';
import {
  type CropMode,
  type EdgeMode,
  type ExportFormat,
  type IslandMode,
  PROPOSAL_BASE_FORMATS,
  VOLUME_FILE,
} from '../../core/src/lists.ts';
import { uncertaintyScore } from '../../core/src/metrics.ts';
import { assertCanWrite, type ReplacePolicy, writeOutputFile } from '../../core/src/node/atomic.ts';
import type { Case, SequenceAlignment } from '../../core/src/node/case.ts';
import { caseChannelFiles, channelFile, fileChannels } from '../../core/src/node/channels.ts';
import { uncertaintyMap } from '../../core/src/uncertainty-map.ts';
import type { Volume } from '../../core/src/volume.ts';
import type { EngineClient } from './client.ts';
import { canExportDicomSeg } from './exports/dicom-seg.ts';
import { EXPORT_WRITERS, exportPath, PROPOSAL_FORMATS, writeFormats } from './exports/index.ts';
import { ProposalMaps } from './exports/proposal-maps.ts';
import type {
  ChannelVolume,
  EngineEvent,
  EngineSliceResult,
  ProposeRequest,
  ProposeSummary,
  SamplerName,
} from './protocol.ts';

/**
 * One case → mask.nii.gz + uncertainty.nii.gz + report.json in a folder. Shared by
 * `quorum propose`, `quorum propose-dataset` and the host's pre-labelling queue.
 * report.json is written last (atomically, like the images): its presence with every listed
 * output is what "this case is done" means, so a run killed mid-case is simply redone.
 */
/** The sampling settings of an engine request (the rest of it is built from the case). */
export type ProposeSettings = Pick<
  ProposeRequest,
  'slices' | 'members' | 'steps' | 'sampler' | 'eta' | 'seed' | 'prompts' | 'crop'
> & {
  /**
   * Small uncertain islands (core/src/islands.ts): 'drop' (default) applies the model's rule when
   * every slice was proposed without prompts; 'keep' never.
   */
  islands?: IslandMode;
  /**
   * The proposal's edge (core/src/contrast-grow.ts): 'grow' (default) applies the model's rule, as
   * the island rule, after it; 'keep' leaves the edge as the members' mean draws it.
   */
  edge?: EdgeMode;
  /** Outputs besides report.json (workers/src/exports/; always PROPOSAL_BASE_FORMATS). */
  exports?: ExportFormat[];
  /**
   * Which existing outputs may be replaced: 'own' (default: files Quorum wrote, as a resumed
   * dataset run redoes a case) or 'never' (`quorum propose` without --overwrite). A file Quorum
   * did not write is never replaced (core/src/node/atomic.ts).
   */
  replace?: ReplacePolicy;
};

/** The formats a proposal folder gets: the default ones plus those asked for, each once. */
export function proposalFormats(asked: readonly ExportFormat[] = []): ExportFormat[] {
  for (const f of asked)
    if (!EXPORT_WRITERS.get(f).inProposals)
      throw new QuorumError(
        'bad-argument',
        `export format '${f}' is not written into proposal folders (allowed: ${PROPOSAL_FORMATS.join(', ')})`,
      );
  return [...new Set([...PROPOSAL_BASE_FORMATS, ...asked])];
}

export interface CaseReport {
  case: string;
  inputs: Record<string, string>;
  model: { name: string; version: string };
  settings: {
    members: number;
    steps: number;
    sampler: SamplerName;
    eta: number;
    seed: number;
    /** Where the network ran (absent in reports before the crop to the head). */
    crop?: CropMode;
    /**
     * The uncertainty map's smoothing of the members' std, in voxels (core/src/uncertainty-map.ts;
     * 0: the std itself; absent in reports before it existed: the std).
     */
    uncertaintySigmaVoxels?: number;
    /** Slices apart that the context neighbours were read (absent: a model without context, or an older report). */
    contextStride?: number;
    /**
     * The island rule applied (the model's, core/src/islands.ts), or why none was: 'keep' (asked),
     * 'none' (the model has no rule), 'partial' (some slices or prompts). Absent in older reports.
     */
    islands?: IslandRule | 'keep' | 'none' | 'partial';
    /**
     * The edge rule applied (the model's, core/src/contrast-grow.ts), or why none was, as `islands`;
     * 'no-flair': the case has no FLAIR on the reference grid to read the lesion's contrast from.
     */
    edge?: EdgeRule | 'keep' | 'none' | 'partial' | 'no-flair';
    slices: [number, number] | 'all with brain';
  };
  device: string;
  deviceNote?: string;
  timings: { totalSeconds: number; engineSeconds: number; modelSeconds: number; secondsPerSlice: number };
  lesionVolumeMl: number;
  /** The proposal's RANO bidimensional measurement (core/src/diameters.ts); absent when it is empty. */
  bidimensional?: Bidimensional;
  /** Expected disagreement volume: sum over slices of the slice uncertainty score times thickness. */
  uncertaintyMm3: number;
  /** uncertaintyMm3 in mL (uncertain tissue). Absent in reports written before the case confidence. */
  uncertainMl?: number;
  /**
   * Case confidence, 0..1: how well the ensemble members agree with their consensus mask over the
   * proposed slices (member-agreement Dice, core/src/metrics.ts caseConfidence). Low = the
   * proposal probably failed. Absent in reports written before it existed (unknown).
   */
  confidence?: number;
  /** confidence < confidenceLowBelow: review this case first. */
  lowConfidence?: boolean;
  /** The model's threshold used for lowConfidence (manifest caseConfidence.lowBelow, else 0.8). */
  confidenceLowBelow?: number;
  /** The components the island rule took out of the mask (lesionVolumeMl is without them). */
  droppedIslands?: DroppedIsland[];
  /**
   * What the edge rule added (core/src/contrast-grow.ts): mL, and the FLAIR levels it used (image
   * units; absent where the lesion was not brighter than its surround, and nothing was added).
   */
  grownEdge?: { ml: number; lesionLevel?: number; normalLevel?: number; threshold?: number };
  slices: { k: number; lesionAreaMm2: number; uncertainty: number }[];
  skippedSlices: number[];
  outputs: string[];
  /** The formats of `outputs` (absent in older reports: mask and uncertainty). */
  exports?: ExportFormat[];
  /** What opening the case said (sequences resampled, unusual geometry). Absent in older reports. */
  warnings?: string[];
  /** Per sequence: file, why it was taken, and how it reached the reference grid. Absent in older reports. */
  sequences?: SequenceAlignment[];
}

export const REPORT_FILE = 'report.json';

function toChannel(v: Volume): ChannelVolume {
  return {
    dims: v.dims,
    spacing: v.spacing,
    origin: v.origin,
    direction: v.direction,
    data: v.data instanceof Float32Array ? v.data : Float32Array.from(v.data),
  };
}

export interface ProposeCaseRun {
  result: Promise<CaseReport>;
  cancel(): void;
}

/** An engine request on a case, less how the case's volumes travel (inline or by file). */
export type CaseRequest = Omit<ProposeRequest, 'volumes' | 'caseFile' | 'caseName'>;

/**
 * How a case's request reaches the engine: `inlineRunner` (the CLI: one request, volumes inline)
 * or the host's scheduler (workers/src/host/prelabel-run.ts: slice batches, by case file). Either
 * way the events are a whole run's (progress over the run, every slice) and the summary is one.
 */
export type CaseRunner = (
  kase: Case,
  request: CaseRequest,
  onEvent: (e: EngineEvent) => void,
) => { result: Promise<ProposeSummary>; cancel(): void };

/** The whole case in one engine request, its volumes inline (`quorum propose`, `propose-dataset`). */
export function inlineRunner(engine: EngineClient): CaseRunner {
  return (kase, request, onEvent) =>
    engine.propose(
      {
        caseName: kase.root,
        volumes: Object.fromEntries(Object.entries(kase.sequences).map(([k, v]) => [k, toChannel(v!)])),
        ...request,
      },
      onEvent,
    );
}

/** Runs the ensemble on `kase` and writes its outputs into `outDir` (created if needed). */
export function proposeCaseToDir(
  engine: EngineClient | CaseRunner,
  kase: Case,
  outDir: string,
  settings: ProposeSettings,
  onEvent: (e: EngineEvent) => void = () => {},
): ProposeCaseRun {
  const t0 = performance.now();
  const sequences = Object.values(kase.sequences) as Volume[];
  const sources = sequences.map((v) => v.source.path);
  const reference = sequences[0];
  const formats = proposalFormats(settings.exports);
  const results: EngineSliceResult[] = [];
  const runner = typeof engine === 'function' ? engine : inlineRunner(engine);
  const run = runner(
    kase,
    {
      slices: settings.slices,
      members: settings.members,
      steps: settings.steps,
      sampler: settings.sampler,
      eta: settings.eta,
      seed: settings.seed ?? 0,
      ...(settings.crop ? { crop: settings.crop } : {}),
      ...(settings.prompts ? { prompts: settings.prompts } : {}),
      keepMembers: formats.some((f) => EXPORT_WRITERS.get(f).keepMembers),
    },
    (e) => {
      if (e.type === 'slice') results.push(e.result);
      onEvent(e);
    },
  );
  const result = run.result.then((s) => {
    mkdirSync(outDir, { recursive: true });
    // assemble volumes on the input grid
    const maps = new ProposalMaps(reference.dims);
    for (const r of results) maps.add(r);
    const mask = maps.mask;
    const uncertainty = uncertaintyMap(
      maps.std,
      reference.dims,
      s.uncertaintySigmaVoxels,
      results.map((r) => r.k),
      s.skipped,
    );
    // the slice scores of the map written (the engine's are of the members' std)
    const plane = reference.dims[0] * reference.dims[1];
    const pixelArea = reference.spacing[0] * reference.spacing[1];
    for (const r of results)
      r.score = uncertaintyScore(uncertainty.subarray(r.k * plane, (r.k + 1) * plane), pixelArea);
    const voxelMl = voxelVolumeMl(reference);
    const islands = wholeVolumeStep(settings, settings.islands, s.dropIslands);
    const edge = wholeVolumeStep(settings, settings.edge, s.growEdge);
    const { dropped, grown, slices } = finishProposal(
      mask,
      maps.probability,
      uncertainty,
      reference,
      kase.sequences.flair,
      {
        islands: typeof islands === 'object' ? islands : undefined,
        edge: typeof edge === 'object' ? edge : undefined,
      },
    );
    const bySlice = new Map(results.map((r) => [r.k, r]));
    for (const k of slices) {
      const r = bySlice.get(k);
      if (r) r.lesionAreaMm2 = lesionVoxelsIn(mask, k * plane, plane) * pixelArea;
    }
    const written = writeFormats(
      {
        reference,
        mask,
        uncertainty,
        ...maps.forExport(),
        canExportDicomSeg: canExportDicomSeg(reference),
        sources,
        replace: settings.replace ?? 'own',
      },
      formats,
      outDir,
      '',
    );
    const lesionVoxels = lesionVoxelsIn(mask, 0, mask.length);
    results.sort((a, b) => a.k - b.k);
    const uncertaintyMm3 = results.reduce((a, r) => a + r.score, 0) * reference.spacing[2];
    const report: CaseReport = {
      case: kase.root,
      inputs: Object.fromEntries(Object.entries(kase.sequences).map(([k, v]) => [k, v!.source.path])),
      model: s.model,
      settings: {
        members: s.members,
        steps: s.steps,
        sampler: s.sampler,
        eta: s.eta,
        seed: s.seed,
        crop: s.crop,
        uncertaintySigmaVoxels: s.uncertaintySigmaVoxels,
        ...(s.contextStride ? { contextStride: s.contextStride } : {}),
        islands,
        edge: typeof edge === 'object' && !grown ? 'no-flair' : edge,
        slices: settings.slices ?? 'all with brain',
      },
      device: s.device,
      deviceNote: s.deviceNote,
      timings: {
        totalSeconds: (performance.now() - t0) / 1000,
        engineSeconds: s.seconds.total,
        modelSeconds: s.seconds.model,
        secondsPerSlice: s.seconds.perSlice,
      },
      lesionVolumeMl: lesionVoxels * voxelMl,
      ...(lesionVoxels ? { bidimensional: bidimensional(mask, reference) } : {}),
      uncertaintyMm3,
      uncertainMl: uncertaintyMm3 / 1000,
      confidence: s.confidence,
      lowConfidence: s.confidence < s.confidenceLowBelow,
      confidenceLowBelow: s.confidenceLowBelow,
      ...(dropped ? { droppedIslands: dropped.islands } : {}),
      ...(grown
        ? {
            grownEdge: {
              ml: grown.ml,
              lesionLevel: grown.lesionLevel,
              normalLevel: grown.normalLevel,
              threshold: grown.threshold,
            },
          }
        : {}),
      slices: results.map((r) => ({ k: r.k, lesionAreaMm2: r.lesionAreaMm2, uncertainty: r.score })),
      skippedSlices: s.skipped,
      outputs: written.written.map((p) => relative(outDir, p)),
      exports: Object.keys(written.files) as ExportFormat[],
      warnings: [...kase.warnings, ...written.warnings],
      sequences: kase.alignment,
    };
    writeOutputFile(join(outDir, REPORT_FILE), `${JSON.stringify(report, null, 2)}\n`, {
      sources,
      replace: settings.replace ?? 'own',
    });
    return report;
  });
  return { result, cancel: run.cancel };
}

/**
 * Refuses, before any work, a proposal folder whose outputs (report.json, each format's file, the
 * files in members/) exist and may not be replaced (`replace`), or are inputs: the message names the file.
 */
export function checkProposalOutputs(
  outDir: string,
  formats: readonly ExportFormat[],
  sources: string[],
  replace: ReplacePolicy = 'own',
): void {
  for (const f of [...formats.map((x) => exportPath(outDir, '', x)), join(outDir, REPORT_FILE)]) {
    let inside: string[] = [];
    try {
      if (statSync(f).isDirectory()) inside = readdirSync(f).filter((n) => !n.startsWith('.'));
    } catch {}
    if (inside.length) for (const n of inside) assertCanWrite(join(f, n), { sources, replace });
    else assertCanWrite(f, { sources, replace });
  }
}

/**
 * The report of a finished case in `outDir`, or undefined when the case must be (re)done: no
 * report, an unreadable one, a listed output missing, or settings other than those asked for
 * (only the settings given explicitly are compared).
 */
export function completeReport(outDir: string, wanted: ProposeSettings = {}): CaseReport | undefined {
  let r: CaseReport;
  try {
    r = JSON.parse(readFileSync(join(outDir, REPORT_FILE), 'utf8')) as CaseReport;
  } catch {
    return undefined;
  }
  if (!Array.isArray(r.outputs) || typeof r.lesionVolumeMl !== 'number') return undefined;
  if (!r.outputs.every((f) => existsSync(join(outDir, f)))) return undefined;
  const s = r.settings ?? {};
  const has = r.exports ?? PROPOSAL_BASE_FORMATS;
  if (wanted.exports?.some((f) => !has.includes(f))) return undefined;
  for (const k of ['members', 'steps', 'sampler', 'eta', 'seed', 'crop'] as const)
    if (wanted[k] !== undefined && s[k] !== wanted[k]) return undefined;
  if (wanted.slices && JSON.stringify(s.slices) !== JSON.stringify(wanted.slices)) return undefined;
  return r;
}

/**
 * The cases of a dataset folder: its subfolders (symlinks followed), sorted by name, hidden
 * ones and `exclude` (e.g. an output folder inside it) left out; and each 4-D NIfTI file in it
 * whose volumes are named sequences (a Decathlon imagesTr folder: one file per case), named
 * after the file without its extension; and each case of nnU-Net's per-channel files
 * (`<case>_0000.nii.gz`, … with named channels), named after the case.
 */
export function listDatasetCases(folder: string, exclude: string[] = []): { name: string; path: string }[] {
  const root = resolve(folder);
  const skip = new Set(exclude.map((p) => resolve(p)));
  const out: { name: string; path: string }[] = [];
  const cases = new Set<string>();
  for (const name of readdirSync(root).sort()) {
    if (name.startsWith('.')) continue;
    const path = join(root, name);
    if (skip.has(path)) continue;
    try {
      if (!statSync(path).isDirectory()) {
        const ch = channelFile(path);
        if (ch) {
          // nnU-Net's file per channel: the case once, by its first channel file (which opens them all)
          if (!cases.has(ch.caseId)) {
            cases.add(ch.caseId);
            if (caseChannelFiles(path).some((c) => c.sequence !== 'unknown'))
              out.push({ name: ch.caseId, path });
          }
        } else if (fileChannels(path)?.channels.some((c) => c.sequence !== 'unknown'))
          out.push({ name: name.replace(VOLUME_FILE, ''), path });
        continue;
      }
    } catch {
      // A dangling symlink is a broken case: list it so it is reported, not silently dropped.
      out.push({ name, path });
      continue;
    }
    out.push({ name, path });
  }
  return out;
}

/**
 * The rule a whole-volume step applies (islands, edge), or why none (CaseReport.settings): 'keep'
 * (asked), 'none' (the model has no rule), 'partial' (a slab or prompts: a component cut by the
 * edge of a slab, or a click's lesion, is not the whole proposal the rule was chosen on).
 */
function wholeVolumeStep<R>(
  settings: ProposeSettings,
  mode: string | undefined,
  rule: R | undefined,
): R | 'keep' | 'none' | 'partial' {
  if (mode === 'keep') return 'keep';
  if (!rule) return 'none';
  if (settings.slices || settings.prompts) return 'partial';
  return rule;
}

function lesionVoxelsIn(mask: Uint8Array, from: number, n: number): number {
  let c = 0;
  for (let i = from; i < from + n; i++) c += mask[i] ? 1 : 0;
  return c;
}

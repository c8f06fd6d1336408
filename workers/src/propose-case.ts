import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { bidimensional } from '../../core/src/diameters.ts';
import { QuorumError } from '../../core/src/errors.ts';
import { finishProposal } from '../../core/src/finish-proposal.ts';
import { voxelVolumeMl } from '../../core/src/geometry.ts';
import {
  type EdgeMode,
  type ExportFormat,
  type IslandMode,
  PROPOSAL_BASE_FORMATS,
} from '../../core/src/lists.ts';
import { uncertaintyScore } from '../../core/src/metrics.ts';
import { type ReplacePolicy, writeOutputFile } from '../../core/src/node/atomic.ts';
import type { Case } from '../../core/src/node/case.ts';
import { uncertaintyMap } from '../../core/src/uncertainty-map.ts';
import type { Volume } from '../../core/src/volume.ts';
import { type CaseReport, REPORT_FILE } from './case-report.ts';
import type { EngineClient } from './client.ts';
import { canExportDicomSeg } from './exports/dicom-seg.ts';
import { EXPORT_WRITERS, PROPOSAL_FORMATS, writeFormats } from './exports/index.ts';
import { ProposalMaps } from './exports/proposal-maps.ts';
import type {
  ChannelVolume,
  EngineEvent,
  EngineSliceResult,
  ProposeRequest,
  ProposeSummary,
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

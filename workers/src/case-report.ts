import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { EdgeRule } from '../../core/src/contrast-grow.ts';
import type { Bidimensional } from '../../core/src/diameters.ts';
import type { DroppedIsland, IslandRule } from '../../core/src/islands.ts';
import { type CropMode, type ExportFormat, PROPOSAL_BASE_FORMATS } from '../../core/src/lists.ts';
import { assertCanWrite, type ReplacePolicy } from '../../core/src/node/atomic.ts';
import type { SequenceAlignment } from '../../core/src/node/case.ts';
import { exportPath } from './exports/index.ts';
import type { ProposeSettings } from './propose-case.ts';
import type { SamplerName } from './protocol.ts';

/**
 * A proposal folder's report.json: what was proposed, how, and what it measured. Written last by
 * proposeCaseToDir (propose-case.ts); its presence with every listed output is what "this case is
 * done" means to `quorum propose-dataset` and to the host's pre-labelling queue.
 */
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

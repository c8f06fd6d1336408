import type { ExportFormat, SamplerName } from './lists.ts';
import type { DisconnectedEvent } from './rpc/channel.ts';

// ---------------------------------------------------------------------------------------------
// Dataset mode: a folder of cases (one per subfolder) worked through as a worklist. The host keeps
// it in a project file next to (never inside) the image folder and pre-labels cases in the
// background, one at a time, so the annotator starts with the least confident proposals.
// Part of the QuorumApi types (core/src/api.ts re-exports them): types only, no DOM, no Node.

/** new: nothing yet; proposed: a pre-label proposal exists; in-review: being corrected; done. */
export type WorklistStatus = 'new' | 'proposed' | 'in-review' | 'done';

export interface WorklistCase {
  /** Subfolder name, unique within the dataset. */
  name: string;
  /** The case folder (pass it to openCase). */
  path: string;
  status: WorklistStatus;
  /** From the pre-label proposal. */
  lesionVolumeMl?: number;
  /** Expected disagreement volume of the proposal in mL (uncertain tissue, sum of slice scores). */
  uncertaintyMl?: number;
  /**
   * Case confidence of the proposal, 0..1 (member-agreement Dice, core/src/metrics.ts
   * caseConfidence); lower = look first. Undefined when unknown (a report written before it).
   */
  confidence?: number;
  /** The proposal's confidence is below the model's threshold: review this case first. */
  lowConfidence?: boolean;
  /** Seconds spent in review, including the running review period. */
  secondsSpent: number;
  /** Folder with the proposal (mask.nii.gz, uncertainty.nii.gz, report.json), once proposed. */
  proposalDir?: string;
  /**
   * The case's existing label, when the dataset has one for it (`labels/<name>.nii(.gz)` beside
   * the case folders, or a `<name>_seg.nii(.gz)` file among its images): the case opens with it
   * as the starting labelmap (OpenCaseOptions.labels).
   */
  labelPath?: string;
  /**
   * How much the pre-label proposal disagrees with that label, weighted by the model's confidence
   * (core/src/label-disagreement.ts; 0..1, higher = the label more likely needs correction).
   */
  labelDisagreement?: number;
  /** Dice between the proposal and the label (beside the score, to see why it ranks there). */
  labelDice?: number;
  /** Why pre-labelling this case failed (the queue goes on with the next case). */
  error?: string;
}

/** Settings of the pre-labelling queue (model defaults for what is left out). */
export interface PrelabelParams {
  members?: number;
  steps?: number;
  sampler?: SamplerName;
  eta?: number;
  seed?: number;
  /** Inclusive axial slice range; default every slice with brain. */
  slices?: [number, number];
  /** Outputs per case besides mask, uncertainty and report.json (e.g. nifti-probability, nifti-members). */
  exports?: ExportFormat[];
}

export type PrelabelState = 'idle' | 'running' | 'paused';

export interface PrelabelQueue {
  state: PrelabelState;
  params: PrelabelParams;
  /** Case being pre-labelled now. */
  current?: string;
  /** Cases still to pre-label (status new, no error). */
  pending: number;
  /** Why the queue stopped, when it stopped on an error (the project file or a proposal could not be saved: a full disk). */
  error?: string;
}

export interface Worklist {
  /** Pass to the other dataset methods. */
  id: string;
  folder: string;
  /** The project file (JSON), next to the image folder; in the app's state folder if that is read-only. */
  projectFile: string;
  /**
   * Sorted: lowest confidence first (ties: most uncertain mL first), then proposals of unknown
   * confidence (most uncertain first), unproposed cases last (then by name).
   */
  cases: WorklistCase[];
  queue: PrelabelQueue;
  warnings: string[];
}

/** Pre-labelling events. The stream of one prelabel call ends with a 'queue' event that is not 'running'. */
export type DatasetEvent =
  | { type: 'queue'; datasetId: string; state: PrelabelState; pending: number; error?: string }
  | { type: 'case-started'; datasetId: string; case: string }
  | {
      type: 'case-progress';
      datasetId: string;
      case: string;
      slicesDone: number;
      slicesTotal: number;
      etaSeconds: number;
    }
  | { type: 'case-done'; datasetId: string; case: WorklistCase }
  | { type: 'case-error'; datasetId: string; case: WorklistCase }
  /** The connection to the host closed, or the subscription was cancelled (core/src/rpc). */
  | DisconnectedEvent;

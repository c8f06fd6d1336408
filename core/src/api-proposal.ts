import type { Device, EdgeMode, IslandMode, SamplerName } from './lists.ts';
import type { Prompts } from './prompts.ts';
import type { DisconnectedEvent } from './rpc/channel.ts';

// ---------------------------------------------------------------------------------------------
// A proposal run: what the renderer asks for (ProposeParams), what the engine streams back slice by
// slice (SliceResult) and the run's events. Part of the QuorumApi types (core/src/api.ts re-exports
// them): types only, no DOM, no Node.

/** 'current' needs `currentSlice`; a range is inclusive; indices are along the model's slice axis. */
export type SliceSelection = 'current' | 'all' | [number, number] | { slices: number[] };

export interface ProposeParams {
  caseId: string;
  slices: SliceSelection;
  currentSlice?: number;
  members?: number;
  steps?: number;
  sampler?: SamplerName;
  eta?: number;
  seed?: number;
  device?: Device;
  /** Send each member's mask too (for browsing members); costs members x W x H bytes per slice. */
  includeMembers?: boolean;
  /** Skip slices without brain voxels (default true). */
  skipEmpty?: boolean;
  /**
   * Refine (issue 12, a prompt model only): clicks on the case's voxel grid. The run then proposes
   * only the slices the clicks touch within `slices` (each click's slice and those of the lesion
   * it lands in, core/src/prompt-propagation.ts) and never those in `prompts.protect`; 'started'
   * lists the whole range, 'done' the slices proposed.
   */
  prompts?: Prompts;
  /**
   * Small uncertain islands (core/src/islands.ts): 'drop' (default) applies the model's rule once
   * a run over every slice (slices 'all', no prompts) is done; 'keep' never.
   */
  islands?: IslandMode;
  /**
   * The proposal's edge (core/src/contrast-grow.ts): 'grow' (default) applies the model's rule after
   * the island rule, on the same runs; 'keep' leaves the edge as the members' mean draws it.
   */
  edge?: EdgeMode;
}

/**
 * Per-slice result, in the VOLUME's in-plane grid (dims[0] x dims[1] for axial, i fastest). One
 * type across every boundary: the engine streams it (workers/src/protocol.ts adds its own sums),
 * the host passes it on, the renderer and loadProposal use it as is.
 */
export interface SliceResult {
  k: number;
  width: number;
  height: number;
  /** Mean foreground probability over members, 0..1. */
  mean: Float32Array;
  /**
   * mean > 0.5 as 0/1 (workers/src/engine/assemble.ts), less the small uncertain islands a run over
   * every slice drops when it ends (core/src/islands.ts; those slices are sent again without them).
   */
  mask: Uint8Array;
  /**
   * The uncertainty map. From the engine: the standard deviation over members. From the host (and
   * in proposal files): the map the model asks for, i.e. that std smoothed in 3-D across
   * neighbouring slices when its manifest sets recommended.uncertaintySigmaVoxels
   * (core/src/uncertainty-map.ts); the score below is then the map's.
   */
  std: Float32Array;
  entropy?: Float32Array;
  /** One 0/1 mask (width x height) per member, when asked for (includeMembers / keepMembers). */
  members?: Uint8Array[];
  memberCount: number;
  /**
   * Slice uncertainty score used for "next most uncertain slice" (higher = look first): the
   * expected disagreement area in mm² (core/src/metrics.ts uncertaintyScore).
   */
  score: number;
}

export type ProposalEvent =
  /** `slices` = the requested slices; the engine skips those without brain (no 'slice' event for them). */
  | { type: 'started'; runId: string; slices: number[]; members: number; steps: number }
  | {
      type: 'progress';
      runId: string;
      slice: number;
      step: number;
      of: number;
      slicesDone: number;
      slicesTotal: number;
      etaSeconds: number;
    }
  | { type: 'slice'; runId: string; result: SliceResult }
  | {
      type: 'done';
      runId: string;
      slices: number[];
      seconds: number;
      /**
       * The small uncertain islands dropped at the end of the run (core/src/islands.ts): their
       * slices came again as 'slice' events without them, before this. Absent: the rule did not run.
       */
      islands?: { count: number; ml: number };
      /**
       * What the edge rule added at the end of the run (core/src/contrast-grow.ts), after the islands;
       * its slices came again as 'slice' events. Absent: the rule did not run.
       */
      edge?: { ml: number };
    }
  | { type: 'cancelled'; runId: string; slicesDone: number[] }
  | { type: 'error'; runId: string; code: string; message: string }
  /** The connection to the host closed before the run ended (core/src/rpc). */
  | DisconnectedEvent;

/**
 * Labelmap values: 1..MAX_SEGMENT_VALUE are the case's segments (core/src/segments.ts; a case
 * from before segments has one, value 1); PENDING marks voxels of a proposal not yet accepted.
 * PENDING sits in the same uint8 labelmap, at the top of the range no segment may take, rather
 * than in a separate layer: cornerstone draws one labelmap with one colour table, the undo diffs
 * and journal records stay one byte per voxel, and a pending voxel is by construction never also a
 * segment voxel (a proposal only fills background). Journals written before segments used 2 for
 * pending (LEGACY_PENDING); replay.ts translates them.
 */
export const LESION = 1;
export const PENDING = 255;
export const PENDING_COLOR: [number, number, number, number] = [40, 255, 90, 255];

/** The pending value of journals written before segments (edit records without `pending`). */
export const LEGACY_PENDING = 2;

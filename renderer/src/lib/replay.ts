import type { JournalRecord, SliceResult } from '../../../core/src/api.ts';
import type { EditHistory, EditKind } from './edits.ts';
import { LEGACY_PENDING, PENDING } from './label-values.ts';
import { applyLabelsIn, type JournalBase, journalLabelsIn, labelsInSegments } from './labels-in.ts';
import type { ProposalStore } from './proposals.ts';
import type { SegmentStore } from './segments.ts';
import type { Session } from './session.ts';

/**
 * The case journal, read back. Every change to the labelmap is a record on disk before the next
 * one starts (edits.ts writes edit/undo/redo, session.ts writes proposal slices and resets), so
 * replaying the records in order rebuilds the labelmap, the proposal and the undo stack exactly
 * as they were when the app stopped, whether it was closed or killed.
 *
 * Record kinds (op.type):
 * - edit / undo / redo: bytes = indices (u32 LE) | before (u8) | after (u8), op.voxels = count
 * - proposal-slice: bytes = mask (u8, width x height) | std (f32 LE, width x height)
 *   (op.pending: the pending value in before/after; absent in journals from before segments, where
 *   it was LEGACY_PENDING)
 * - segment: a change of the segment table (op.action add/rename/recolour/delete/lock/visibility/
 *   activate, op.value, ...; segments.ts). A journal without any keeps the default table, one
 *   "Whole tumour" segment of value 1: what the lesion label of earlier versions was.
 * - reset: the user discarded everything before it ("Start over"), segments included
 * - proposal: a run's outcome (informational)
 * - labels-in: the starting labelmap read from a label file (labels-in.ts): the base state, no undo step
 */

/** A streamed proposal slice as a journal record (member masks are not kept: browsing only). */
export function proposalRecord(r: SliceResult): JournalRecord {
  const n = r.width * r.height;
  const bytes = new Uint8Array(n * 5);
  bytes.set(r.mask.subarray(0, n), 0);
  bytes.set(new Uint8Array(r.std.buffer, r.std.byteOffset, n * 4), n);
  return {
    op: {
      type: 'proposal-slice',
      k: r.k,
      width: r.width,
      height: r.height,
      score: r.score,
      memberCount: r.memberCount,
      at: new Date().toISOString(),
    },
    bytes,
  };
}

export function resetRecord(): JournalRecord {
  return { op: { type: 'reset', at: new Date().toISOString() } };
}

export interface ReplaySummary {
  /** Records read (after the last reset). */
  records: number;
  edits: number;
  undos: number;
  redos: number;
  proposalSlices: number;
  /** Starting labels read in (labels-in records). */
  labelsIn?: number;
  /** Changes of the segment table. */
  segmentChanges?: number;
  /** Time of the last record, ISO. */
  lastAt?: string;
  /** Records the replay could not use (wrong size for this volume, unknown type). */
  skipped: number;
}

export interface ReplayTarget {
  labels: Uint8Array;
  history: EditHistory;
  proposals: ProposalStore;
  /** Voxels per axial slice. */
  sliceSize: number;
  /** Slices touched, for the viewer. */
  touched: Set<number>;
  /** The segment table, rebuilt from segment records (absent: they are skipped). */
  segments?: SegmentStore;
}

/** Only what follows the last reset counts. */
export function liveRecords(records: JournalRecord[]): JournalRecord[] {
  let start = 0;
  records.forEach((r, i) => {
    if (r.op.type === 'reset') start = i + 1;
  });
  return records.slice(start);
}

export function replayJournal(all: JournalRecord[], t: ReplayTarget): ReplaySummary {
  const records = liveRecords(all);
  const s: ReplaySummary = {
    records: records.length,
    edits: 0,
    undos: 0,
    redos: 0,
    proposalSlices: 0,
    skipped: 0,
  };
  for (const r of records) {
    const type = r.op.type;
    if (typeof r.op.at === 'string') s.lastAt = r.op.at;
    if (type === 'edit') {
      const cmd = decodeEdit(r, t.labels.length);
      const done = cmd && t.history.replay('edit', cmd);
      if (!done) s.skipped++;
      else {
        s.edits++;
        for (const k of done.slices) t.touched.add(k);
        if (cmd.kind === 'accept' || cmd.kind === 'reject') t.proposals.markReviewed(done.slices);
      }
    } else if (type === 'undo' || type === 'redo') {
      const done = t.history.replay(type);
      if (!done) s.skipped++;
      else {
        s[type === 'undo' ? 'undos' : 'redos']++;
        for (const k of done.slices) t.touched.add(k);
      }
    } else if (type === 'proposal-slice') {
      const res = decodeProposalSlice(r, t.labels.length, t.sliceSize);
      if (!res) s.skipped++;
      else {
        t.proposals.add(res);
        t.touched.add(res.k);
        s.proposalSlices++;
      }
    } else if (type === 'labels-in') {
      const slices = applyLabelsIn(r, t.labels, t.sliceSize);
      if (!slices) s.skipped++;
      else {
        // the labels' segment table is the base the segment records that follow change
        t.segments?.reset(labelsInSegments(r));
        s.labelsIn = (s.labelsIn ?? 0) + 1;
        for (const k of slices) t.touched.add(k);
      }
    } else if (type === 'segment') {
      if (t.segments?.replay(r.op)) s.segmentChanges = (s.segmentChanges ?? 0) + 1;
      else s.skipped++;
    } else if (type !== 'proposal') s.skipped++;
  }
  return s;
}

/** An own, aligned copy of a record's bytes (wire views may sit at any offset). */
function ownBytes(r: JournalRecord): Uint8Array | undefined {
  return r.bytes ? new Uint8Array(r.bytes) : undefined;
}

function decodeEdit(r: JournalRecord, voxels: number) {
  const n = Number(r.op.voxels);
  const b = ownBytes(r);
  if (!b || !Number.isInteger(n) || n <= 0 || b.byteLength !== n * 6) return undefined;
  const indices = new Uint32Array(b.buffer, 0, n);
  for (let i = 0; i < n; i++) if (indices[i] >= voxels) return undefined; // journal of another grid
  const before = b.subarray(n * 4, n * 5);
  const after = b.subarray(n * 5, n * 6);
  if (r.op.pending === undefined)
    for (const values of [before, after])
      for (let i = 0; i < n; i++) if (values[i] === LEGACY_PENDING) values[i] = PENDING;
  return { kind: String(r.op.kind) as EditKind, indices, before, after };
}

function decodeProposalSlice(r: JournalRecord, voxels: number, sliceSize: number): SliceResult | undefined {
  const { k, width, height, score, memberCount } = r.op as Record<string, number>;
  const n = width * height;
  const b = ownBytes(r);
  if (
    !b ||
    n !== sliceSize ||
    b.byteLength !== n * 5 ||
    !Number.isInteger(k) ||
    k < 0 ||
    (k + 1) * n > voxels
  )
    return undefined;
  const mask = b.subarray(0, n);
  const std = new Float32Array(b.buffer.slice(n, n * 5));
  const mean = new Float32Array(n);
  for (let i = 0; i < n; i++) mean[i] = mask[i];
  return { k, width, height, mask, std, mean, memberCount, score };
}

/**
 * Rebuilds the open case's labelmap, proposal and undo stack from its journal (the work of an
 * earlier session, closed or crashed). Says what was restored (if anything) and what was set
 * aside, and what the journal held (labels read in only start a case without work, labels-in.ts).
 */
export async function replayCase(
  s: Session,
  caseId: string,
): Promise<{ held: JournalBase; restored?: ReplaySummary; journalNotice?: string }> {
  const { records, notice } = await s.api.readJournal(caseId);
  const journalNotice = notice?.message;
  const live = liveRecords(records);
  const held: JournalBase = { records: live.length, labelsIn: journalLabelsIn(live) };
  if (!records.length || !s.labels || !s.history || !s.proposals || !s.image)
    return { held, restored: undefined, journalNotice };
  const [nx, ny] = s.image.dims;
  const summary = replayJournal(records, {
    labels: s.labels,
    history: s.history,
    proposals: s.proposals,
    sliceSize: nx * ny,
    touched: new Set<number>(),
    segments: s.segments,
  });
  return { held, restored: summary.records > 0 ? summary : undefined, journalNotice };
}

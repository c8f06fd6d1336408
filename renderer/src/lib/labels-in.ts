import type { CaseInfo, JournalRecord, QuorumApi } from '../../../core/src/api.ts';
import { checkSegmentTable, type SegmentInfo } from '../../../core/src/segments.ts';
import type { SegmentStore } from './segments.ts';

/**
 * Labels read in with a case (OpenCaseOptions.labels) as the starting labelmap. They are the
 * base state, not an edit: no undo step goes back past them. They are journalled as one record
 * (op `labels-in`: the file and the voxel count; bytes: indices u32 LE | values u8 of the labelled
 * voxels) so a reopen, with or without the label file, replays them before the edits made on top.
 * The file's segments (values, names, colours: CaseInfo.labelsIn.segments) become the case's
 * segment table, carried in the same record (op.segments), so a reopen gets them back too.
 */

/**
 * Labelmap values for the viewer from the label volume's values: the reader (core/src/labels.ts)
 * keeps them within 1..254, so none collides with the pending value 255.
 */
export function startingLabels(label: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(label.length);
  for (let i = 0; i < label.length; i++) if (label[i]) out[i] = label[i];
  return out;
}

export function labelsInRecord(
  path: string,
  labels: Uint8Array,
  segments?: readonly SegmentInfo[],
): JournalRecord {
  let n = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) n++;
  const bytes = new Uint8Array(n * 5);
  const idx = new Uint32Array(n);
  let m = 0;
  for (let i = 0; i < labels.length; i++)
    if (labels[i]) {
      idx[m] = i;
      bytes[n * 4 + m] = labels[i];
      m++;
    }
  bytes.set(new Uint8Array(idx.buffer), 0);
  const op = { type: 'labels-in', path, voxels: n, at: new Date().toISOString() };
  return { op: segments?.length ? { ...op, segments: segments.map((x) => ({ ...x })) } : op, bytes };
}

/** The segment table a labels-in record carries (journals from before segments carry none). */
export function labelsInSegments(r: JournalRecord): SegmentInfo[] | undefined {
  const t = r.op.segments === undefined ? undefined : checkSegmentTable(r.op.segments);
  return typeof t === 'string' ? undefined : t;
}

/**
 * Writes a labels-in record into the labelmap; returns the slices it touched, or undefined when
 * the record does not fit this volume (a journal of another grid).
 */
export function applyLabelsIn(r: JournalRecord, labels: Uint8Array, sliceSize: number): number[] | undefined {
  const n = Number(r.op.voxels);
  const b = r.bytes ? new Uint8Array(r.bytes) : undefined;
  if (!b || !Number.isInteger(n) || n < 0 || b.byteLength !== n * 5) return undefined;
  const idx = new Uint32Array(b.buffer, 0, n);
  for (let m = 0; m < n; m++) if (idx[m] >= labels.length) return undefined;
  const slices = new Set<number>();
  for (let m = 0; m < n; m++) {
    labels[idx[m]] = b[n * 4 + m];
    slices.add(Math.floor(idx[m] / sliceSize));
  }
  return [...slices].sort((x, y) => x - y);
}

/** The labels a journal started from (its last labels-in record), if any. */
export function journalLabelsIn(records: JournalRecord[]): JournalRecord | undefined {
  let last: JournalRecord | undefined;
  for (const r of records) if (r.op.type === 'labels-in') last = r;
  return last;
}

/** What a case's journal held at open: live records, and the labels it started from. */
export interface JournalBase {
  records: number;
  labelsIn?: JournalRecord;
}

const fileName = (p: unknown) => String(p).split(/[\\/]/).pop();

/**
 * A case opened with a label file (CaseInfo.labelsIn) starts from its labels, journalled as one
 * record, when its journal holds no work yet; otherwise the journal wins and the returned notice
 * says so (unless that work started from this same file). `force`: Start over. Updates `base`.
 */
export async function startFromLabels(
  api: Pick<QuorumApi, 'getVolume'>,
  info: CaseInfo,
  labels: Uint8Array,
  base: JournalBase,
  journal: (records: JournalRecord[]) => void,
  segments: SegmentStore,
  force = false,
): Promise<string | undefined> {
  const l = info.labelsIn;
  if (!l) return undefined;
  const name = fileName(l.path);
  if (!force && base.records > 0)
    return base.labelsIn?.op.path === l.path
      ? undefined
      : `This case already has saved work (its journal), which was restored; ${name} was not loaded. Start over to begin from it.`;
  const vol = await api.getVolume(info.id, 'label');
  const start = startingLabels(vol.data);
  labels.set(start);
  const record = labelsInRecord(l.path, start, l.segments);
  journal([record]);
  segments.reset(labelsInSegments(record));
  base.records = 1;
  base.labelsIn = record;
  const n = l.segments.length;
  return `Started from ${name}: ${l.voxels} labelled voxels (${n} segment${n === 1 ? '' : 's'}; ${l.grid})`;
}

/**
 * Start over on a case reopened without its label file: back to the labels its journal started
 * from (the labels-in record journalled again), if any. Returns the notice, or undefined.
 */
export function restartFromJournalLabels(
  base: JournalBase,
  labels: Uint8Array,
  sliceSize: number,
  journal: (records: JournalRecord[]) => void,
  segments: SegmentStore,
): string | undefined {
  const r = base.labelsIn;
  if (!r || !applyLabelsIn(r, labels, sliceSize)) return undefined;
  segments.reset(labelsInSegments(r));
  const bytes = r.bytes ? new Uint8Array(r.bytes) : undefined; // own copy, not a view
  journal([{ op: { ...r.op, at: new Date().toISOString() }, bytes }]);
  return `Started over from the labels read in from ${fileName(r.op.path)}`;
}

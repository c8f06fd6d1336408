import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../core/src/api.ts';
import { rgbToDicomLab } from '../../core/src/export/dicom-seg.ts';
import {
  applySegmentOp,
  checkSegmentTable,
  DEFAULT_SEGMENTS,
  initialSegmentState,
  newSegment,
  type SegmentState,
} from '../../core/src/segments.ts';
import { EditHistory } from '../../renderer/src/lib/edits.ts';
import { LabelCensus } from '../../renderer/src/lib/label-census.ts';
import { LEGACY_PENDING, PENDING } from '../../renderer/src/lib/label-values.ts';
import { ProposalStore } from '../../renderer/src/lib/proposals.ts';
import { proposalRecord, replayJournal } from '../../renderer/src/lib/replay.ts';
import { SegmentStore } from '../../renderer/src/lib/segments.ts';
import { appendJournalFile, readJournalFile } from '../../workers/src/host/journal-store.ts';
import { scratchDir } from '../../workers/src/host/service.ts';

const ok = (s: SegmentState | string): SegmentState => {
  if (typeof s === 'string') throw new Error(s);
  return s;
};

describe('segment table', () => {
  it('starts as one whole-tumour segment of value 1 and applies every action', () => {
    let s = initialSegmentState();
    expect(s.segments).toEqual([...DEFAULT_SEGMENTS]);
    expect(s.active).toBe(1);
    const enh = newSegment(s, 'Enhancing');
    if (typeof enh === 'string') throw new Error(enh);
    expect(enh.value).toBe(2);
    expect(enh.colour).toEqual([255, 210, 0]); // the preset's colour
    s = ok(applySegmentOp(s, { action: 'add', ...enh }));
    s = ok(applySegmentOp(s, { action: 'activate', value: 2 }));
    s = ok(applySegmentOp(s, { action: 'rename', value: 2, name: '  enhancing rim ' }));
    s = ok(applySegmentOp(s, { action: 'recolour', value: 1, colour: [1, 2, 3] }));
    s = ok(applySegmentOp(s, { action: 'lock', value: 1, locked: true }));
    s = ok(applySegmentOp(s, { action: 'visibility', value: 2, visible: false }));
    expect(s.active).toBe(2);
    expect(s.segments).toEqual([
      { value: 1, name: 'Whole tumour', colour: [1, 2, 3], visible: true, locked: true },
      { value: 2, name: 'enhancing rim', colour: [255, 210, 0], visible: false, locked: false },
    ]);
    s = ok(applySegmentOp(s, { action: 'delete', value: 2 }));
    expect(s.active).toBe(1); // the active segment went: the first one is active
    expect(s.removed.map((r) => r.name)).toEqual(['enhancing rim']);
    // a new segment does not take a deleted one's value (undoing the deletion brings its voxels back)
    expect((newSegment(s, 'Edema') as { value: number }).value).toBe(3);
  });

  it('refuses what would break the table, saying why', () => {
    const s = initialSegmentState();
    expect(applySegmentOp(s, { action: 'delete', value: 1 })).toMatch(/last segment/);
    expect(applySegmentOp(s, { action: 'add', value: 1, name: 'x', colour: [0, 0, 0] })).toMatch(/in use/);
    expect(applySegmentOp(s, { action: 'add', value: 255, name: 'x', colour: [0, 0, 0] })).toMatch(
      /1\.\.254/,
    );
    expect(applySegmentOp(s, { action: 'add', value: 2, name: ' ', colour: [0, 0, 0] })).toMatch(/name/);
    expect(applySegmentOp(s, { action: 'add', value: 2, name: 'x', colour: [0, 0, 300] as never })).toMatch(
      /colour/,
    );
    expect(applySegmentOp(s, { action: 'rename', value: 7, name: 'x' })).toMatch(/no segment with value 7/);
    expect(
      checkSegmentTable([
        { value: 1, name: 'a', colour: [0, 0, 0] },
        { value: 1, name: 'b', colour: [0, 0, 0] },
      ]),
    ).toMatch(/twice/);
    expect(checkSegmentTable('nope')).toMatch(/not a non-empty list/);
  });

  it('gives DICOM CIELab values for sRGB colours (white, black, pure red)', () => {
    expect(rgbToDicomLab([255, 255, 255])).toEqual([65535, 32896, 32896]);
    expect(rgbToDicomLab([0, 0, 0])).toEqual([0, 32896, 32896]);
    // L* 53.24, a* 80.09, b* 67.20 (CIE 1976 under D65)
    const [L, a, b] = rgbToDicomLab([255, 0, 0]);
    expect(L / 655.35).toBeCloseTo(53.24, 1);
    expect((a * 255) / 65535 - 128).toBeCloseTo(80.09, 0);
    expect((b * 255) / 65535 - 128).toBeCloseTo(67.2, 0);
  });
});

describe('segments in the case journal', () => {
  const dir = scratchDir('quorum-segments-journal');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const [nx, ny, nz] = [6, 5, 4];
  const n = nx * ny;

  /** A proposal slice: its mask on the given in-slice voxels. */
  const sliceResult = (k: number, on: number[]) => {
    const mask = new Uint8Array(n);
    for (const i of on) mask[i] = 1;
    const std = new Float32Array(n).fill(0.1);
    return { k, width: nx, height: ny, mask, std, mean: Float32Array.from(mask), memberCount: 3, score: 1 };
  };
  const slice = (k: number, on: number[]) => proposalRecord(sliceResult(k, on));

  function fresh() {
    const labels = new Uint8Array(n * nz);
    const records: JournalRecord[] = [];
    const journal = (r: JournalRecord[]) => records.push(...r);
    return {
      labels,
      records,
      history: new EditHistory(labels, n, journal),
      proposals: new ProposalStore(labels, n),
      segments: new SegmentStore(journal),
    };
  }

  function replayFile(path: string) {
    const t = fresh();
    const summary = replayJournal(readJournalFile(path), { ...t, sliceSize: n, touched: new Set() });
    return { ...t, summary };
  }

  it('replays segment changes, an accept into the second segment and paint on the first from the file', () => {
    const live = fresh();
    const proposed = sliceResult(1, [0, 1, 2, 7]);
    live.proposals.add(proposed);
    live.records.push(proposalRecord(proposed));
    const edema = live.segments.add('Edema');
    expect(edema).toMatchObject({ value: 2, name: 'Edema' });
    expect(live.segments.active).toBe(2);
    // accept: pending -> the active segment's value
    live.history.apply('accept', [1], (v) => (v === PENDING ? live.segments.active : v));
    live.segments.apply({ action: 'activate', value: 1 });
    live.history.begin();
    live.labels[3 * n + 5] = 1; // a brush stroke on slice 3 in the first segment
    live.history.end('brush');
    live.segments.apply({ action: 'lock', value: 2, locked: true });
    live.segments.apply({ action: 'rename', value: 1, name: 'Tumour core' });

    const path = join(dir, 'two.qjournal');
    appendJournalFile(path, live.records);
    const back = replayFile(path);
    expect(back.summary.skipped).toBe(0);
    expect(back.summary.segmentChanges).toBe(5); // add, activate (by add), activate, lock, rename
    expect(Array.from(back.labels)).toEqual(Array.from(live.labels));
    expect(back.labels[n + 0]).toBe(2);
    expect(back.labels[3 * n + 5]).toBe(1);
    expect(back.segments.state).toEqual(live.segments.state);
    expect(back.segments.list.map((s) => [s.value, s.name, s.locked])).toEqual([
      [1, 'Tumour core', false],
      [2, 'Edema', true],
    ]);
  });

  it('replays a journal of an earlier version (no segment records, pending stored as 2) as one whole-tumour segment', () => {
    // What the app wrote before segments: a proposal slice, an accept of it (before 2, after 1),
    // a proposal on another slice and a brush stroke over part of that pending proposal.
    const k1 = 1 * n;
    const k2 = 2 * n;
    const edit = (kind: string, idx: number[], before: number[], after: number[]): JournalRecord => {
      const bytes = new Uint8Array(idx.length * 6);
      bytes.set(new Uint8Array(Uint32Array.from(idx).buffer), 0);
      bytes.set(before, idx.length * 4);
      bytes.set(after, idx.length * 5);
      return {
        op: { type: 'edit', kind, slices: [], voxels: idx.length, at: '2026-01-01T00:00:00Z' },
        bytes,
      };
    };
    const old: JournalRecord[] = [
      slice(1, [0, 1]),
      edit('accept', [k1, k1 + 1], [LEGACY_PENDING, LEGACY_PENDING], [1, 1]),
      slice(2, [3, 4, 5]),
      edit('brush', [k2 + 3, k2 + 9], [LEGACY_PENDING, 0], [1, 1]),
      { op: { type: 'undo', kind: 'brush', slices: [2], voxels: 2, at: '2026-01-01T00:00:01Z' } },
    ];
    const path = join(dir, 'old.qjournal');
    appendJournalFile(path, old);
    const back = replayFile(path);
    expect(back.summary.skipped).toBe(0);
    expect(back.segments.list).toEqual([...DEFAULT_SEGMENTS]);
    expect(back.segments.active).toBe(1);
    const nonZero = [...back.labels.entries()].filter(([, v]) => v).map(([i, v]) => [i, v]);
    // accepted voxels are segment 1; the undone brush put the pending voxel back as PENDING (not 2)
    expect(nonZero).toEqual([
      [k1, 1],
      [k1 + 1, 1],
      [k2 + 3, PENDING],
      [k2 + 4, PENDING],
      [k2 + 5, PENDING],
    ]);
    expect(new LabelCensus(back.labels, n).pendingSlices()).toEqual([2]);
  });

  it('a reset forgets the segments before it, and a bad segment record is skipped, not fatal', () => {
    const live = fresh();
    live.segments.add('Necrosis');
    live.records.push({ op: { type: 'reset', at: '2026-01-01T00:00:00Z' } });
    live.records.push({ op: { type: 'segment', action: 'rename', value: 9, name: 'nobody' } });
    live.records.push({ op: { type: 'segment', action: 'explode', value: 1 } });
    const path = join(dir, 'reset.qjournal');
    appendJournalFile(path, live.records);
    const back = replayFile(path);
    expect(back.segments.list).toEqual([...DEFAULT_SEGMENTS]);
    expect(back.summary.skipped).toBe(2);
  });

  it('strokes never change locked segments, and the eraser clears only the active segment', () => {
    const t = fresh();
    t.segments.add('Edema'); // value 2, active
    t.history.guard = (kind, b, a) => t.segments.strokeAllows(kind, b, a, t.segments.lockedValues());
    t.labels.set([1, 1, 2, 2, PENDING], 0);
    t.history.begin();
    t.labels.fill(0, 0, 5); // an eraser stroke over all five
    const cmd = t.history.end('eraser');
    expect(Array.from(t.labels.subarray(0, 5))).toEqual([1, 1, 0, 0, 0]);
    expect(Array.from(cmd?.indices ?? [])).toEqual([2, 3, 4]);
    expect(t.history.reverted).toEqual([0]);
    t.segments.apply({ action: 'lock', value: 1, locked: true });
    t.history.begin();
    t.labels.fill(2, 0, 5); // a brush stroke of segment 2 over a locked segment 1
    t.history.end('brush');
    expect(Array.from(t.labels.subarray(0, 5))).toEqual([1, 1, 2, 2, 2]);
  });

  it('exports segment values as they are, and an included pending proposal as the given (active) segment', () => {
    const t = fresh();
    t.labels.set([1, 2, PENDING, 0, PENDING], 0);
    expect(Array.from(t.proposals.exportMask(false, 2).subarray(0, 5))).toEqual([1, 2, 0, 0, 0]);
    expect(Array.from(t.proposals.exportMask(true, 2).subarray(0, 5))).toEqual([1, 2, 2, 0, 2]);
    expect(t.labels[2]).toBe(PENDING); // the labelmap itself is untouched
  });
});

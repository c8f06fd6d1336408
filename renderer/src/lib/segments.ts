import type { JournalRecord } from '../../../core/src/api.ts';
import {
  applySegmentOp,
  initialSegmentState,
  newSegment,
  type Rgb,
  SEGMENT_ACTIONS,
  type SegmentAction,
  type SegmentInfo,
  type SegmentOp,
  type SegmentState,
} from '../../../core/src/segments.ts';
import type { EditKind } from './edits.ts';
import { PENDING } from './label-values.ts';

/**
 * The open case's segment table (core/src/segments.ts) as the renderer keeps it: every change is
 * one journal record (`{ type: 'segment', action, value, ... }`) written before it shows, so a
 * reopened case (replay.ts) gets the same segments, names, colours, locks and active segment back.
 */
export class SegmentStore {
  state: SegmentState;

  constructor(
    private readonly journal: (records: JournalRecord[]) => void,
    initial?: readonly SegmentInfo[],
  ) {
    this.state = initialSegmentState(initial);
  }

  get list(): SegmentInfo[] {
    return this.state.segments;
  }
  get active(): number {
    return this.state.active;
  }
  get activeSegment(): SegmentInfo | undefined {
    return this.state.segments.find((s) => s.value === this.state.active);
  }
  get(value: number): SegmentInfo | undefined {
    return this.state.segments.find((s) => s.value === value);
  }
  lockedValues(): Set<number> {
    return new Set(this.state.segments.filter((s) => s.locked).map((s) => s.value));
  }

  /** Applies and journals one change; returns why not when it cannot be applied. */
  apply(op: SegmentOp): string | undefined {
    const next = applySegmentOp(this.state, op);
    if (typeof next === 'string') return next;
    this.state = next;
    this.journal([segmentRecord(op)]);
    return undefined;
  }

  /** Adds a segment (a preset name, or any name) and makes it active; returns it or why not. */
  add(name: string, colour?: Rgb): SegmentInfo | string {
    const seg = newSegment(this.state, name, colour);
    if (typeof seg === 'string') return seg;
    const err = this.apply({ action: 'add', ...seg });
    if (err) return err;
    this.apply({ action: 'activate', value: seg.value });
    return seg;
  }

  /** Replays one journal record (no journalling); false when it cannot be used. */
  replay(op: Record<string, unknown>): boolean {
    const parsed = parseSegmentOp(op);
    if (!parsed) return false;
    const next = applySegmentOp(this.state, parsed);
    if (typeof next === 'string') return false;
    this.state = next;
    return true;
  }

  /**
   * The values cornerstone's tools must not write: the locked segments, and while the eraser is
   * the tool every segment but the active one (its eraser clears any unlocked value under it).
   */
  toolLocks(eraser: boolean): Set<number> {
    const locked = this.lockedValues();
    if (eraser) for (const s of this.state.segments) if (s.value !== this.state.active) locked.add(s.value);
    return locked;
  }

  /** Why a segment cannot be deleted now (the last one, a locked one), or undefined. */
  whyNotDelete(value: number): string | undefined {
    const seg = this.get(value);
    if (!seg) return `no segment with value ${value}`;
    if (this.state.segments.length <= 1) return 'The last segment cannot be deleted';
    if (seg.locked) return `${seg.name} is locked: unlock it to delete it`;
    return undefined;
  }

  /** Back to the default table ("Start over"). */
  reset(initial?: readonly SegmentInfo[]): void {
    this.state = initialSegmentState(initial);
  }

  /**
   * Whether a stroke may change a voxel from `before` to `after`: never a locked segment's voxel,
   * never into a locked segment, and the eraser only clears the active segment (and pending
   * proposal voxels), leaving other segments as they are.
   */
  strokeAllows(kind: EditKind, before: number, after: number, locked: ReadonlySet<number>): boolean {
    if (locked.has(before) || locked.has(after)) return false;
    if (kind === 'eraser') return before === this.state.active || before === PENDING;
    return true;
  }
}

export function segmentRecord(op: SegmentOp): JournalRecord {
  return { op: { type: 'segment', ...op, at: new Date().toISOString() } };
}

function parseSegmentOp(op: Record<string, unknown>): SegmentOp | undefined {
  const action = op.action as SegmentAction;
  if (!SEGMENT_ACTIONS.includes(action) || typeof op.value !== 'number') return undefined;
  return {
    action,
    value: op.value,
    name: typeof op.name === 'string' ? op.name : undefined,
    colour: Array.isArray(op.colour) ? (op.colour as Rgb) : undefined,
    visible: typeof op.visible === 'boolean' ? op.visible : undefined,
    locked: typeof op.locked === 'boolean' ? op.locked : undefined,
  };
}

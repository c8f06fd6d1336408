import type { JournalRecord } from '../../../core/src/api.ts';
import { PENDING } from './label-values.ts';

/**
 * Undo/redo over labelmap voxel diffs. Every change to the labelmap that the user makes or
 * accepts (brush strokes, eraser, fill, accepting or rejecting a proposal) becomes one command:
 * the flat voxel indices it changed with their values before and after. Undo writes `before`
 * back only where the voxel still holds `after`, so a proposal that streamed in meanwhile is
 * not clobbered. Each command (and each undo/redo) is also a journal record.
 */
export type EditKind =
  | 'brush'
  | 'eraser'
  | 'threshold'
  | 'fill'
  | 'accept'
  | 'reject'
  | 'paint'
  /** Slice interpolation (interpolate.ts): the empty slices between drawn ones, filled. */
  | 'interpolate'
  /** Deleting a segment clears its voxels (undo brings them, and the segment, back). */
  | 'segment-delete'
  /** A Refine run (refine.ts): the pending voxels its streamed slices changed, one undo step. */
  | 'refine';

export interface EditCommand {
  kind: EditKind;
  indices: Uint32Array;
  before: Uint8Array;
  after: Uint8Array;
  slices: number[];
  at: string;
}

export class EditHistory {
  private undoStack: EditCommand[] = [];
  private redoStack: EditCommand[] = [];
  private snapshot?: Uint8Array;
  /** True while replaying the journal: the records are already on disk. */
  private muted = false;
  readonly editedSlices = new Set<number>();
  /**
   * Which voxel changes a stroke may make (segment locks, the eraser's active segment; set by the
   * session). end() puts back the others before recording, and lists their slices in `reverted`.
   */
  guard?: (kind: EditKind, before: number, after: number) => boolean;
  /** Slices where the last end() put voxels back (to be redrawn). */
  reverted: number[] = [];

  constructor(
    readonly labels: Uint8Array,
    private readonly sliceSize: number,
    private readonly journal: (records: JournalRecord[]) => void,
    private readonly limit = 200,
  ) {}

  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }
  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }
  get depth(): number {
    return this.undoStack.length;
  }

  /** True between begin() and the end() that records it (a stroke still open). */
  get strokeOpen(): boolean {
    return this.snapshot !== undefined;
  }

  /** Before a tool touches the labelmap (mouse down). */
  begin(): void {
    this.snapshot = this.labels.slice();
  }

  /**
   * After the tool is done (mouse up): records what changed since begin(). With keepIfUnchanged,
   * an empty diff keeps the snapshot so the caller can look again (tools that write late).
   */
  end(kind: EditKind, keepIfUnchanged = false): EditCommand | undefined {
    const before = this.snapshot;
    if (!before) return undefined;
    const changed: number[] = [];
    const labels = this.labels;
    const reverted = new Set<number>();
    for (let i = 0; i < labels.length; i++)
      if (labels[i] !== before[i]) {
        if (!this.guard || this.guard(kind, before[i], labels[i])) changed.push(i);
        else {
          labels[i] = before[i];
          reverted.add(Math.floor(i / this.sliceSize));
        }
      }
    this.reverted = [...reverted];
    if (changed.length === 0 && keepIfUnchanged) return undefined;
    this.snapshot = undefined;
    if (changed.length === 0) return undefined;
    const indices = Uint32Array.from(changed);
    const b = new Uint8Array(indices.length);
    const a = new Uint8Array(indices.length);
    for (let n = 0; n < indices.length; n++) {
      b[n] = before[indices[n]];
      a[n] = labels[indices[n]];
    }
    return this.push(kind, indices, b, a);
  }

  /** A programmatic edit: `fn(value)` gives the new value of each voxel in the given k-slices. */
  apply(kind: EditKind, slices: number[], fn: (value: number) => number): EditCommand | undefined {
    const idx: number[] = [];
    const b: number[] = [];
    const a: number[] = [];
    for (const k of slices) {
      const start = k * this.sliceSize;
      for (let i = start; i < start + this.sliceSize; i++) {
        const v = this.labels[i];
        const w = fn(v);
        if (w !== v) {
          idx.push(i);
          b.push(v);
          a.push(w);
          this.labels[i] = w;
        }
      }
    }
    if (idx.length === 0) return undefined;
    return this.push(kind, Uint32Array.from(idx), Uint8Array.from(b), Uint8Array.from(a));
  }

  /** Sets the given voxels to `value` as one command (a connected component accepted or rejected). */
  setVoxels(kind: EditKind, indices: Uint32Array, value: number): EditCommand | undefined {
    const idx: number[] = [];
    const b: number[] = [];
    for (const i of indices)
      if (this.labels[i] !== value) {
        idx.push(i);
        b.push(this.labels[i]);
        this.labels[i] = value;
      }
    if (idx.length === 0) return undefined;
    return this.push(kind, Uint32Array.from(idx), Uint8Array.from(b), new Uint8Array(idx.length).fill(value));
  }

  /** Sets each voxel `indices[n]` to `values[n]` as one command (several label values at once). */
  setEach(kind: EditKind, indices: Uint32Array, values: Uint8Array): EditCommand | undefined {
    const idx: number[] = [];
    const b: number[] = [];
    const a: number[] = [];
    for (let n = 0; n < indices.length; n++) {
      const i = indices[n];
      if (this.labels[i] === values[n]) continue;
      idx.push(i);
      b.push(this.labels[i]);
      a.push(values[n]);
      this.labels[i] = values[n];
    }
    if (idx.length === 0) return undefined;
    return this.push(kind, Uint32Array.from(idx), Uint8Array.from(b), Uint8Array.from(a));
  }

  /**
   * Records as one command a change already written to the labelmap (slices streamed in by a
   * Refine run): voxel `indices[n]` held `before[n]` and holds its value now.
   */
  recordWritten(kind: EditKind, indices: Uint32Array, before: Uint8Array): EditCommand | undefined {
    if (indices.length === 0) return undefined;
    const after = new Uint8Array(indices.length);
    for (let n = 0; n < indices.length; n++) after[n] = this.labels[indices[n]];
    return this.push(kind, indices, before, after);
  }

  /**
   * Replays one journal record (see replay.ts): an edit re-applies its voxel values and is pushed
   * like a live one, undo/redo walk the same stacks, so the restored state and the undo history
   * equal what was on screen. Nothing is journalled again.
   */
  replay(type: 'edit' | 'undo' | 'redo', cmd?: Omit<EditCommand, 'slices' | 'at'>): EditCommand | undefined {
    this.muted = true;
    try {
      if (type === 'undo') return this.undo();
      if (type === 'redo') return this.redo();
      if (!cmd) return undefined;
      for (let n = 0; n < cmd.indices.length; n++) this.labels[cmd.indices[n]] = cmd.after[n];
      return this.push(cmd.kind, cmd.indices, cmd.before, cmd.after);
    } finally {
      this.muted = false;
    }
  }

  private push(kind: EditKind, indices: Uint32Array, before: Uint8Array, after: Uint8Array): EditCommand {
    const slices = new Set<number>();
    for (let n = 0; n < indices.length; n++) slices.add(Math.floor(indices[n] / this.sliceSize));
    const cmd: EditCommand = {
      kind,
      indices,
      before,
      after,
      slices: [...slices].sort((x, y) => x - y),
      at: new Date().toISOString(),
    };
    for (const k of cmd.slices) this.editedSlices.add(k);
    this.undoStack.push(cmd);
    if (this.undoStack.length > this.limit) this.undoStack.shift();
    this.redoStack = [];
    this.record('edit', cmd);
    return cmd;
  }

  undo(): EditCommand | undefined {
    const cmd = this.undoStack.pop();
    if (!cmd) return undefined;
    this.write(cmd, cmd.after, cmd.before);
    this.redoStack.push(cmd);
    this.record('undo', cmd);
    return cmd;
  }

  redo(): EditCommand | undefined {
    const cmd = this.redoStack.pop();
    if (!cmd) return undefined;
    this.write(cmd, cmd.before, cmd.after);
    this.undoStack.push(cmd);
    this.record('redo', cmd);
    return cmd;
  }

  private write(cmd: EditCommand, from: Uint8Array, to: Uint8Array) {
    for (let n = 0; n < cmd.indices.length; n++) {
      const i = cmd.indices[n];
      if (this.labels[i] === from[n]) this.labels[i] = to[n];
    }
  }

  /** Journal op: what happened; bytes: indices (u32 LE) then before then after. */
  private record(type: 'edit' | 'undo' | 'redo', cmd: EditCommand) {
    if (this.muted) return;
    const n = cmd.indices.length;
    const bytes = new Uint8Array(n * 6);
    bytes.set(new Uint8Array(cmd.indices.buffer, cmd.indices.byteOffset, n * 4), 0);
    bytes.set(cmd.before, n * 4);
    bytes.set(cmd.after, n * 5);
    this.journal([
      {
        // `pending`: the value of pending proposal voxels in before/after (journals without it used 2).
        op: {
          type,
          kind: cmd.kind,
          slices: cmd.slices,
          voxels: n,
          pending: PENDING,
          at: new Date().toISOString(),
        },
        bytes,
      },
    ]);
  }
}

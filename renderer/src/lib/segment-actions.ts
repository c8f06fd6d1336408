import type { Rgb, SegmentAction, SegmentOp } from '../../../core/src/segments.ts';
import type { Session } from './session.ts';
import type { SessionCore } from './session-core.ts';

/**
 * The segment table's UI operations (add, change, delete, and undoing a delete) on the open
 * case's SegmentStore (segments.ts), kept in step with the viewer and the labelmap.
 */
export class SegmentActions {
  constructor(
    private readonly s: Session,
    private readonly core: SessionCore,
  ) {}

  /**
   * The segment table to the viewer: colours, visibility, the active value, and the locks, which
   * while the eraser is the tool include every segment but the active one (cornerstone's eraser
   * clears any unlocked value under it; ours clears the active segment only).
   */
  show(): void {
    const { s } = this;
    const locked = s.segments.toolLocks(s.ui.tool === 'eraser');
    s.viewer.setSegments(s.segments.list, s.segments.active, locked);
    s.changed();
  }

  /** One change of the segment table (journalled by the store); false, with the reason shown, when refused. */
  private change(fn: () => string | undefined): boolean {
    if (!this.s.caseInfo || this.core.editingPaused()) return false;
    const err = fn();
    if (err) this.core.set({ notice: err });
    this.show();
    return !err;
  }

  /** A new segment, from the presets or user-named, made active. */
  add(name: string, colour?: Rgb): boolean {
    return this.change(() => {
      const r = this.s.segments.add(name, colour);
      return typeof r === 'string' ? r : undefined;
    });
  }

  /** Rename, recolour, show/hide, lock/unlock or make active (add and delete have their own). */
  apply(op: SegmentOp & { action: Exclude<SegmentAction, 'add' | 'delete'> }): boolean {
    return this.change(() => this.s.segments.apply(op));
  }

  /**
   * Deletes a segment and clears its voxels: the clearing is one undoable edit, and undoing it
   * brings the segment back as it was (deleteUndone).
   */
  delete(value: number): boolean {
    const { s } = this;
    if (!s.history || !s.image || this.core.editingPaused()) return false;
    const refused = s.segments.whyNotDelete(value);
    if (refused) {
      this.core.set({ notice: refused });
      return false;
    }
    const all = Array.from({ length: s.image.dims[2] }, (_, k) => k);
    const cmd = s.history.apply('segment-delete', all, (v) => (v === value ? 0 : v));
    if (cmd) this.core.labelsChanged(cmd.slices);
    return this.change(() => s.segments.apply({ action: 'delete', value }));
  }

  /** Undoing a segment's deletion restores it (its voxels are back); redoing deletes it again. */
  deleteUndone(value: number, how: 'undo' | 'redo'): void {
    const segments = this.s.segments;
    const removed = segments.state.removed.find((g) => g.value === value);
    if (how === 'undo' && removed && !segments.get(value))
      this.change(() => segments.apply({ action: 'add', ...removed }));
    else if (how === 'redo' && segments.get(value) && segments.list.length > 1)
      this.change(() => segments.apply({ action: 'delete', value }));
  }

  /** Accepting into (or painting) a locked segment is refused, saying so. */
  activeWritable(): boolean {
    const seg = this.s.segments.activeSegment;
    if (seg?.locked) this.core.set({ notice: `${seg.name} is locked: unlock it, or choose another segment` });
    return !seg?.locked;
  }

  /** Strokes never change a locked segment's voxels, and the eraser clears only the active segment. */
  guardStrokes(): void {
    const { s } = this;
    if (s.history)
      s.history.guard = (kind, before, after) =>
        s.segments.strokeAllows(kind, before, after, s.segments.lockedValues());
  }
}

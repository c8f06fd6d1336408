import type { EditKind } from './edits.ts';
import type { ToolMode, ViewportName } from './engine.ts';
import type { Session } from './session.ts';

const EDIT_TOOLS: Partial<Record<ToolMode, EditKind>> = {
  brush: 'brush',
  eraser: 'eraser',
  threshold: 'threshold',
  fill: 'fill',
};

/**
 * Turns mouse strokes of cornerstone's labelmap tools into undoable, journalled edits: snapshot
 * the labelmap on press, diff it after release (after the tool's own mouse-up work). Clicks of the
 * 'lesion' tool accept (Shift: reject) the proposed lesion under the pointer; clicks of the 'refine'
 * tool are positive (Shift: negative) prompts for a re-proposal (refine.ts).
 */
export function watchStrokes(s: Session): void {
  let active: EditKind | undefined;
  let waiting: { kind: EditKind; timer: ReturnType<typeof setTimeout> } | undefined;
  /** Records the stroke; false when nothing changed yet and it may still (keeps the snapshot). */
  const finish = (kind: EditKind, final: boolean): boolean => {
    const cmd = s.history?.end(kind, !final);
    // voxels a segment lock kept (or the eraser's other segments) were put back: redraw them
    if (s.history?.reverted.length) s.strokeReverted(s.history.reverted);
    if (cmd) s.strokeRecorded(cmd.slices);
    else s.changed();
    return cmd !== undefined || final;
  };
  // Brushes write while the mouse moves, but the fill tool writes after the button is released,
  // later on a busy machine: look again every 50 ms for up to 2 s before deciding a stroke
  // changed nothing (a fill that lands after the check would be neither undoable nor journalled).
  const settle = (kind: EditKind, tries: number) => {
    const timer = setTimeout(
      () => {
        waiting = undefined;
        if (!finish(kind, tries === 0)) settle(kind, tries - 1);
      },
      tries === 40 ? 60 : 50,
    );
    waiting = { kind, timer };
  };
  for (const [id, el] of Object.entries(s.viewer.elements) as [ViewportName, HTMLDivElement][]) {
    el.addEventListener(
      'pointerdown',
      (e) => {
        if (waiting) {
          // the previous stroke ends here, before this one begins
          clearTimeout(waiting.timer);
          finish(waiting.kind, true);
          waiting = undefined;
        }
        if (s.ui.tool === 'lesion' && e.button === 0) {
          const ijk = s.viewer.indexAtPoint(id, e.clientX, e.clientY);
          if (ijk) s.reviewComponent(e.shiftKey ? 'reject' : 'accept', ijk);
          return;
        }
        if (s.ui.tool === 'refine' && e.button === 0) {
          const ijk = s.viewer.indexAtPoint(id, e.clientX, e.clientY);
          if (ijk) void s.refine.click(ijk, !e.shiftKey);
          return;
        }
        const kind = EDIT_TOOLS[s.ui.tool];
        if (!kind || e.button !== 0 || !s.history) return;
        active = kind;
        s.history.begin();
      },
      { capture: true },
    );
  }
  window.addEventListener('pointerup', () => {
    if (!active) return;
    const kind = active;
    active = undefined;
    settle(kind, 40);
  });
}

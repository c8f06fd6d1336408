import { connectedComponent } from '../../../core/src/components.ts';
import type { SegmentActions } from './segment-actions.ts';
import type { Session } from './session.ts';
import type { SessionCore } from './session-core.ts';
import { PENDING } from './viewer.ts';

/** Reviewing the proposal: pending voxels accepted into the active segment or rejected to background. */

/** Accept (pending -> the active segment) or reject (pending -> background) on one slice or all. */
export function reviewSlices(
  s: Session,
  core: SessionCore,
  segments: SegmentActions,
  kind: 'accept' | 'reject',
  scope: 'slice' | 'all',
): void {
  if (!s.history || !s.proposals || core.editingPaused()) return;
  const slices = scope === 'slice' ? [s.currentSlice()] : s.pendingSlices();
  if (kind === 'accept' && !segments.activeWritable()) return;
  const to = kind === 'accept' ? s.segments.active : 0;
  const cmd = s.history.apply(kind, slices, (v) => (v === PENDING ? to : v));
  s.proposals.markReviewed(slices);
  if (cmd) core.labelsChanged(cmd.slices);
  s.refine.reset(); // the refined object is done
  s.changed();
}

/**
 * Accepts (pending -> the active segment) or rejects (pending -> background) the 3D connected
 * proposal component at a voxel; rejecting a segment's component removes it. One undo step.
 * Returns its voxel count (0: nothing there, or refused, saying why).
 */
export function reviewComponentAt(
  s: Session,
  core: SessionCore,
  segments: SegmentActions,
  kind: 'accept' | 'reject',
  ijk: [number, number, number],
): number {
  const dims = s.image?.dims;
  return dims
    ? reviewComponentFrom(s, core, segments, kind, ijk[0] + dims[0] * (ijk[1] + dims[1] * ijk[2]))
    : 0;
}

/** reviewComponentAt at a flat voxel index (a listed lesion's seed, core/src/components.ts). */
export function reviewComponentFrom(
  s: Session,
  core: SessionCore,
  segments: SegmentActions,
  kind: 'accept' | 'reject',
  seed: number,
): number {
  if (!s.history || !s.labels || !s.image || core.editingPaused()) return 0;
  const dims = s.image.dims;
  const here = s.labels[seed];
  // Shift+click also removes an accepted segment's component, unless that segment is locked.
  const from =
    here === PENDING || (kind === 'reject' && here !== 0 && !s.segments.get(here)?.locked) ? here : undefined;
  if (from === undefined) {
    const locked = kind === 'reject' && here !== 0 && here !== PENDING;
    core.set({
      notice: locked ? `${s.segments.get(here)?.name} is locked` : 'No proposed lesion under the pointer',
    });
    return 0;
  }
  if (kind === 'accept' && !segments.activeWritable()) return 0;
  const comp = connectedComponent(s.labels, dims, seed, from);
  const cmd = s.history.setVoxels(kind, comp, kind === 'accept' ? s.segments.active : 0);
  if (cmd) core.labelsChanged(cmd.slices);
  s.refine.reset(); // the refined object is done
  core.set({ notice: `${kind === 'accept' ? 'Accepted' : 'Rejected'} a lesion of ${comp.length} voxels` });
  return comp.length;
}

import type { Types } from '@cornerstonejs/core';
import { annotation, BidirectionalTool, utilities as toolUtils } from '@cornerstonejs/tools';
import type { VolumeGeometry } from '../../../core/src/api.ts';
import type { Bidimensional, Ijk } from '../../../core/src/diameters.ts';
import { voxelToWorld } from '../../../core/src/geometry.ts';
import { VIEWPORTS } from './engine.ts';

/**
 * The active segment's RANO measurement drawn as a reader draws it by hand: cornerstone's
 * bidirectional calipers (the long axis and the perpendicular, with their lengths) on the slice
 * it was measured on, in the view that steps through that slice. Locked: the numbers come from
 * the labels (core/src/diameters.ts), so a handle dragged by hand would only disagree with them;
 * an edit of the segment measures and draws it again.
 */
export class Calipers {
  private shown?: { measure: Bidimensional; uid: string };

  /** Draws `measure` (undefined: nothing); the same measurement object again changes nothing. */
  show(measure: Bidimensional | undefined, geometry: VolumeGeometry | undefined): void {
    if (measure === this.shown?.measure) return;
    if (this.shown) annotation.state.removeAnnotation(this.shown.uid);
    this.shown = undefined;
    if (measure && geometry) {
      const world = (e: Ijk) => voxelToWorld(geometry, e) as Types.Point3;
      const drawn = BidirectionalTool.hydrate(measure.plane, [
        [world(measure.longestEnds[0]), world(measure.longestEnds[1])],
        [world(measure.perpendicularEnds[0]), world(measure.perpendicularEnds[1])],
      ]);
      if (drawn?.annotationUID) {
        annotation.locking.setAnnotationLocked(drawn.annotationUID, true);
        this.shown = { measure, uid: drawn.annotationUID };
      }
    }
    toolUtils.triggerAnnotationRenderForViewportIds([...VIEWPORTS]);
  }

  /** Whether calipers are drawn now, and where (for the browser tests). */
  get drawn(): { uid: string; k: number } | undefined {
    return this.shown && { uid: this.shown.uid, k: this.shown.measure.k };
  }
}

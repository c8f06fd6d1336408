import type { Types } from '@cornerstonejs/core';
import { segmentation, Enums as ToolEnums } from '@cornerstonejs/tools';
import type { SegmentInfo } from '../../../core/src/segments.ts';
import { UNCERTAINTY_COLORMAP, VIEWPORTS } from './engine.ts';
import { PENDING, PENDING_COLOR } from './label-values.ts';

/**
 * How the two overlays look in cornerstone: the uncertainty volume's colour map and opacity, and
 * the labelmap's segments (colours, visibility, locks, the active value). Viewer keeps the state
 * and calls these again whenever a volume or a representation is rebuilt.
 */

export interface UncertaintyStyle {
  visible: boolean;
  opacity: number;
  /** Values below are transparent (std units). */
  threshold: number;
  /** Top of the colour range (std of 0/1 members is at most 0.5). */
  max: number;
  /** Follow the largest std received so far (else `max` stays where the user put it). */
  autoMax: boolean;
}

export const DEFAULT_UNCERTAINTY_STYLE: UncertaintyStyle = {
  visible: true,
  opacity: 0.6,
  threshold: 0.01,
  max: 0.5,
  autoMax: true,
};

/** Transparent below the threshold (and at 0, where nothing was proposed), `opacity` above. */
function opacityMapping(s: UncertaintyStyle): { value: number; opacity: number }[] {
  const o = s.visible ? s.opacity : 0;
  const t = Math.max(s.threshold, 1e-4);
  return [
    { value: 0, opacity: 0 },
    { value: t * 0.999, opacity: 0 },
    { value: t, opacity: o },
    { value: Math.max(s.max, t * 1.01), opacity: o },
  ];
}

/** Sets the uncertainty volume's colour range and opacity in every viewport (the caller renders). */
export function applyUncertaintyStyle(
  viewport: (id: (typeof VIEWPORTS)[number]) => Types.IVolumeViewport,
  volumeId: string,
  s: UncertaintyStyle,
): void {
  for (const id of VIEWPORTS) {
    const vp = viewport(id);
    // The range first: the colour map is stretched over the transfer function's current range.
    vp.setProperties({ voiRange: { lower: 0, upper: s.max } }, volumeId);
    vp.setProperties({ colormap: { name: UNCERTAINTY_COLORMAP, opacity: opacityMapping(s) } }, volumeId);
  }
}

export interface SegmentState {
  list: readonly SegmentInfo[];
  active: number;
  locked: ReadonlySet<number>;
}

/**
 * Writes the segmentation's own state objects (typed in @cornerstonejs/tools) in one pass rather
 * than through setSegmentIndexLocked / setSegmentIndexColor / setSegmentIndexVisibility: those
 * fire an event per call and skip (or throw for) segment indices the state does not list yet,
 * such as a segment added a moment ago; one representation-modified event per viewport follows.
 */
export function applySegmentState(segmentationId: string, { list, active, locked }: SegmentState): void {
  const seg = segmentation.state.getSegmentation(segmentationId);
  if (!seg) return;
  const values = new Set(list.map((s) => s.value));
  for (const key of Object.keys(seg.segments)) {
    const v = Number(key);
    if (v !== PENDING && !values.has(v)) delete seg.segments[v];
  }
  for (const s of [...list, { value: PENDING, name: 'Proposal (pending)' }]) {
    seg.segments[s.value] ??= {
      segmentIndex: s.value,
      label: s.name,
      locked: false,
      cachedStats: {},
      active: false,
    };
    seg.segments[s.value].label = s.name;
    seg.segments[s.value].locked = locked.has(s.value);
  }
  segmentation.segmentIndex.setActiveSegmentIndex(segmentationId, active);
  const rgba = new Map<number, Types.Color>(list.map((s) => [s.value, [...s.colour, 255] as Types.Color]));
  rgba.set(PENDING, PENDING_COLOR);
  for (const id of VIEWPORTS) {
    const reps = segmentation.state.getSegmentationRepresentations(id, { segmentationId });
    for (const rep of reps ?? []) {
      const lut = segmentation.state.getColorLUT(rep.colorLUTIndex);
      if (lut) for (let v = 1; v < 256; v++) lut[v] = rgba.get(v) ?? [0, 0, 0, 0];
      for (const s of list) {
        rep.segments[s.value] ??= { visible: true };
        rep.segments[s.value].visible = s.visible;
      }
      rep.segments[PENDING] ??= { visible: true };
    }
    segmentation.triggerSegmentationEvents.triggerSegmentationRepresentationModified(id, segmentationId);
  }
}

/** The labelmap's look in every viewport (fill and outline), the same for every segment. */
export function applyLabelmapLook(): void {
  segmentation.segmentationStyle.setStyle(
    { type: ToolEnums.SegmentationRepresentations.Labelmap },
    { fillAlpha: 0.45, renderOutline: true, outlineWidth: 1 },
  );
}

import type { SegmentInfo } from '../../../core/src/segments.ts';
import type { ViewportName } from './engine.ts';
import type { RefineTiming } from './refine.ts';
import type { ReplaySummary } from './replay.ts';
import type { Session } from './session.ts';

/**
 * A read-only window for the browser tests (test/browser/viewer.test.ts): where the viewer is and
 * what the labelmap holds. Screenshots are still what the tests check for rendered pixels.
 */
export interface QuorumTestHook {
  ready(): boolean;
  slice(id: ViewportName): number;
  labelCounts(): Record<number, number>;
  /** Canvas rectangle of a viewport in page pixels. */
  rect(id: ViewportName): { x: number; y: number; width: number; height: number };
  /** Page position of voxel (i, j, k)'s centre in a viewport. */
  voxelToPage(id: ViewportName, ijk: [number, number, number]): [number, number];
  labelAt(ijk: [number, number, number]): number;
  goToSlice(id: ViewportName, index: number): void;
  dims(): [number, number, number];
  spacing(): [number, number, number];
  runActive(): boolean;
  caseId(): string | undefined;
  /** What opening the case restored from its journal, if anything. */
  restored(): ReplaySummary | undefined;
  /** Non-zero labelmap voxels as flat [index, value, index, value, ...]. */
  nonZero(): number[];
  /** Journal appends the host has not acknowledged yet. */
  journalPending(): number;
  canUndo(): boolean;
  canRedo(): boolean;
  /** The case's segment table and the active segment's value. */
  segments(): SegmentInfo[];
  activeSegment(): number;
  /** The Refine tool: a refinement streaming, its clicks so far, the last run's timing. */
  refining(): boolean;
  refineClicks(): number;
  refineTiming(): RefineTiming | undefined;
  /** Whether the open model takes clicks (manifest `prompts`). */
  modelTakesPrompts(): boolean;
}

export function installTestHook(s: Session): void {
  const v = s.viewer;
  const hook: QuorumTestHook = {
    ready: () => !!s.caseInfo && !s.ui.loading,
    slice: (id) => v.sliceInfo(id).index,
    labelCounts: () => s.labelCounts(),
    rect: (id) => {
      const r = v.elements[id].getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    },
    voxelToPage: (id, ijk) => {
      const world = v.base!.imageData!.indexToWorld(ijk);
      const [x, y] = v.viewport(id).worldToCanvas(world as [number, number, number]);
      const r = v.elements[id].getBoundingClientRect();
      return [r.x + x, r.y + y];
    },
    labelAt: ([i, j, k]) => {
      const [nx, ny] = v.geometry.dims;
      return s.labels?.[i + nx * (j + ny * k)] ?? -1;
    },
    goToSlice: (id, index) => v.goToSlice(id, index),
    dims: () => [...v.geometry.dims] as [number, number, number],
    spacing: () => [...v.geometry.spacing] as [number, number, number],
    runActive: () => s.ui.run.running,
    caseId: () => s.caseInfo?.id,
    restored: () => s.ui.restored,
    nonZero: () => {
      const out: number[] = [];
      const l = s.labels ?? new Uint8Array(0);
      for (let i = 0; i < l.length; i++) if (l[i]) out.push(i, l[i]);
      return out;
    },
    journalPending: () => s.journalInFlight,
    canUndo: () => s.history?.canUndo ?? false,
    canRedo: () => s.history?.canRedo ?? false,
    segments: () => s.segments.list.map((g) => ({ ...g, colour: [...g.colour] as SegmentInfo['colour'] })),
    activeSegment: () => s.segments.active,
    refining: () => s.refine.active,
    refineClicks: () => s.refine.clicks.length,
    refineTiming: () => s.refine.lastTiming,
    modelTakesPrompts: () => !!s.model?.prompts,
  };
  (window as unknown as { __quorumTest: QuorumTestHook }).__quorumTest = hook;
}

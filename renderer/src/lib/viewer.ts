import {
  cache,
  Enums,
  type RenderingEngine,
  setVolumesForViewports,
  type Types,
  utilities,
} from '@cornerstonejs/core';
import {
  segmentation,
  Enums as ToolEnums,
  type Types as ToolTypes,
  utilities as toolUtils,
} from '@cornerstonejs/tools';
import type { VolumeData, VolumeGeometry } from '../../../core/src/api.ts';
import { DEFAULT_SEGMENTS, type SegmentInfo } from '../../../core/src/segments.ts';
import {
  createEngine,
  createToolGroup,
  initCornerstone,
  setPrimaryTool,
  TOOL_GROUP_ID,
  type ToolMode,
  VIEWPORTS,
  type ViewportName,
} from './engine.ts';
import { LESION, PENDING } from './label-values.ts';
import {
  applyLabelmapLook,
  applySegmentState,
  applyUncertaintyStyle,
  DEFAULT_UNCERTAINTY_STYLE,
  type SegmentState,
  type UncertaintyStyle,
} from './overlay-style.ts';
import { RateLimited } from './rate-limit.ts';
import { cameraOnPlaneOf, nearestVoxelAxis, type ScreenAxes, screenAxes } from './screen-axes.ts';
import { createFloatOverlay, createImageVolume, createLabelmap, markSlices } from './volumes.ts';

export { LESION, PENDING, PENDING_COLOR } from './label-values.ts';
export type { UncertaintyStyle } from './overlay-style.ts';

export interface SliceInfo {
  /** Voxel index along the viewport's normal axis (axial k, sagittal i, coronal j). */
  index: number;
  count: number;
}

/** The voxel axis each viewport steps through in a file stored in axial slices (Viewer.axisOf). */
const AXIS: Record<ViewportName, 0 | 1 | 2> = { sagittal: 0, coronal: 1, axial: 2 };

/** Least time between two redraws of a streaming proposal (viewer.proposalChanged). */
export const STREAM_REDRAW_MS = 1000;

/**
 * The 3-plane viewer: one base image volume (the chosen sequence), the uncertainty volume fused
 * over it with a colour map, and the labelmap segmentation. Owns no app state beyond what
 * cornerstone needs; App.svelte drives it.
 */
export class Viewer {
  engine!: RenderingEngine;
  group!: ToolTypes.IToolGroup;
  geometry!: VolumeGeometry;
  base?: Types.IImageVolume;
  uncertaintyVolume?: Types.IImageVolume;
  labelmapVolume?: Types.IImageVolume;
  readonly segmentationId = 'quorum-labelmap';
  private frame = 'quorum-frame';
  private listeners = new Set<() => void>();
  private labelmapShown = true;
  uncertaintyStyle: UncertaintyStyle = { ...DEFAULT_UNCERTAINTY_STYLE };

  constructor(readonly elements: Record<ViewportName, HTMLDivElement>) {}

  async init(): Promise<void> {
    await initCornerstone();
    this.engine = createEngine(this.elements);
    this.group = createToolGroup();
    const notify = () => this.emit();
    for (const id of VIEWPORTS) {
      this.elements[id].addEventListener(Enums.Events.CAMERA_MODIFIED, notify);
      this.elements[id].addEventListener(Enums.Events.VOI_MODIFIED, notify);
    }
  }

  onChange(cb: () => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private emit() {
    for (const cb of this.listeners) cb();
  }

  viewport(id: ViewportName): Types.IVolumeViewport {
    return this.engine.getViewport(id) as Types.IVolumeViewport;
  }

  /**
   * Shows a case: `image` is the displayed sequence; `labels` and `uncertainty` are full-volume
   * arrays owned by the caller and rendered in place.
   */
  async showCase(image: VolumeData, labels: Uint8Array, uncertainty: Float32Array): Promise<void> {
    this.takeStreamed(); // slices streamed into the case shown before
    this.geometry = image;
    this.frame = `quorum-frame-${image.caseId}`;
    this.clearSegmentation();
    this.base = createImageVolume(image, this.frame);
    this.uncertaintyVolume = createFloatOverlay(image, this.frame, uncertainty, 'uncertainty');
    this.labelmapVolume = createLabelmap(image, this.frame, labels, this.base.volumeId);
    await this.setVolumes(image);
    segmentation.addSegmentations([
      {
        segmentationId: this.segmentationId,
        representation: {
          type: ToolEnums.SegmentationRepresentations.Labelmap,
          data: { volumeId: this.labelmapVolume.volumeId, referencedVolumeId: this.base.volumeId },
        },
        config: { segments: { [PENDING]: { label: 'Proposal (pending)' } } },
      },
    ]);
    await this.addLabelmapRepresentation();
    this.applySegments();
    for (const id of VIEWPORTS) this.viewport(id).resetCamera();
    this.engine.render();
    this.emit();
  }

  /** Switches the displayed sequence; labelmap and uncertainty stay. */
  async showImage(image: VolumeData): Promise<void> {
    const old = this.base;
    const cameras = VIEWPORTS.map((id) => this.viewport(id).getCamera());
    this.base = createImageVolume(image, this.frame);
    for (const id of VIEWPORTS)
      segmentation.removeSegmentationRepresentations(id, { segmentationId: this.segmentationId });
    await this.setVolumes(image);
    await this.addLabelmapRepresentation();
    this.applySegments();
    VIEWPORTS.forEach((id, n) => {
      this.viewport(id).setCamera(cameras[n]);
    });
    // The labelmap's referenced volume must stay in the cache: cornerstone's brushes look it up
    // and silently paint nothing when it is gone (seen after switching FLAIR -> T1c).
    if (old && old.volumeId !== this.labelmapVolume?.referencedVolumeId)
      cache.removeVolumeLoadObject(old.volumeId);
    this.engine.render();
    this.emit();
  }

  private async setVolumes(image: VolumeData) {
    const base = this.base!;
    const unc = this.uncertaintyVolume!;
    await setVolumesForViewports(
      this.engine,
      [{ volumeId: base.volumeId }, { volumeId: unc.volumeId }],
      [...VIEWPORTS],
    );
    const lo = image.range.p005;
    const hi = image.range.p995 > lo ? image.range.p995 : image.range.max;
    for (const id of VIEWPORTS) {
      const vp = this.viewport(id);
      vp.setProperties({ voiRange: { lower: lo, upper: hi } }, base.volumeId);
    }
    this.applyUncertaintyStyle();
  }

  private async addLabelmapRepresentation() {
    const lut: Types.ColorLUT = Array.from({ length: 256 }, () => [0, 0, 0, 0] as Types.Color);
    const map: Record<string, { segmentationId: string; config: { colorLUTOrIndex: Types.ColorLUT } }[]> = {};
    for (const id of VIEWPORTS)
      map[id] = [{ segmentationId: this.segmentationId, config: { colorLUTOrIndex: lut } }];
    await segmentation.addLabelmapRepresentationToViewportMap(map);
    for (const id of VIEWPORTS)
      segmentation.activeSegmentation.setActiveSegmentation(id, this.segmentationId);
    applyLabelmapLook();
    this.setLabelmapVisible(this.labelmapShown);
  }

  private clearSegmentation() {
    if (!segmentation.state.getSegmentation(this.segmentationId)) return;
    for (const id of VIEWPORTS)
      segmentation.removeSegmentationRepresentations(id, { segmentationId: this.segmentationId });
    segmentation.removeSegmentation(this.segmentationId);
    for (const v of [this.base, this.uncertaintyVolume, this.labelmapVolume])
      if (v) cache.removeVolumeLoadObject(v.volumeId);
  }

  /**
   * The case's segments as cornerstone sees them: colours in the labelmap's colour table (pending
   * keeps its green), hidden segments not drawn, `locked` values never written by the brushes or
   * fill (cornerstone's segment locking), and the brushes and fill painting the active value.
   * Kept here and applied again whenever the labelmap representation is rebuilt.
   */
  setSegments(segments: readonly SegmentInfo[], active: number, locked: ReadonlySet<number>): void {
    this.segments = { list: segments, active, locked };
    this.applySegments();
    this.engine?.render();
  }

  private segments: SegmentState = {
    list: DEFAULT_SEGMENTS,
    active: LESION,
    locked: new Set(),
  };

  private applySegments() {
    applySegmentState(this.segmentationId, this.segments);
  }

  setLabelmapVisible(visible: boolean): void {
    this.labelmapShown = visible;
    for (const id of VIEWPORTS)
      segmentation.config.visibility.setSegmentationRepresentationVisibility(
        id,
        { segmentationId: this.segmentationId, type: ToolEnums.SegmentationRepresentations.Labelmap },
        visible,
      );
    this.engine.render();
  }

  setUncertaintyStyle(style: Partial<UncertaintyStyle>): void {
    this.uncertaintyStyle = { ...this.uncertaintyStyle, ...style };
    this.applyUncertaintyStyle();
    this.engine.render();
  }

  private applyUncertaintyStyle() {
    if (this.uncertaintyVolume)
      applyUncertaintyStyle(
        (id) => this.viewport(id),
        this.uncertaintyVolume.volumeId,
        this.uncertaintyStyle,
      );
  }

  /** After writing labelmap voxels of these k-slices: upload and redraw (now, with any streamed ones). */
  labelsChanged(slices: number[]): void {
    const streamed = this.takeStreamed();
    this.draw(streamed.length ? [...new Set([...streamed, ...slices])] : slices, streamed);
  }

  uncertaintyChanged(slices: number[]): void {
    if (!this.uncertaintyVolume) return;
    markSlices(this.uncertaintyVolume, slices);
    this.engine.render();
  }

  /**
   * Slices a proposal run has written (labelmap and uncertainty): redrawn at once when the last
   * redraw of streamed slices is STREAM_REDRAW_MS old, else together with the next ones when it
   * is. Without a GPU (SwiftShader) a redraw of the three views costs ~0.3 s of CPU, and one per
   * streamed slice took more CPU than the engine, on the same cores, tripling a whole volume's
   * wall time (`npm run bench viewer`).
   */
  proposalChanged(slices: number[]): void {
    for (const k of slices) this.streamed.add(k);
    this.streamRedraw.request();
  }

  /** Draws the streamed slices not drawn yet (at the end of a run: its last slices now). */
  flushStreamed(): void {
    this.streamRedraw.run();
  }

  private streamed = new Set<number>();
  private readonly streamRedraw = new RateLimited(STREAM_REDRAW_MS, () => {
    const ks = this.takeStreamed();
    if (ks.length) this.draw(ks, ks);
  });

  /** Uploads the changed k-slices of the labelmap and of the uncertainty map, and redraws. */
  private draw(labelSlices: number[], uncertaintySlices: number[]) {
    if (!this.labelmapVolume || !this.uncertaintyVolume) return;
    if (uncertaintySlices.length) markSlices(this.uncertaintyVolume, uncertaintySlices);
    markSlices(this.labelmapVolume, labelSlices);
    segmentation.triggerSegmentationEvents.triggerSegmentationDataModified(this.segmentationId, labelSlices);
    this.engine.render();
  }

  private takeStreamed(): number[] {
    this.streamRedraw.cancel();
    const ks = [...this.streamed];
    this.streamed.clear();
    return ks;
  }

  setTool(mode: ToolMode): void {
    setPrimaryTool(this.group, mode);
  }

  setBrushSize(mm: number): void {
    toolUtils.segmentation.setBrushSizeForToolGroup(TOOL_GROUP_ID, mm);
  }

  setBrushThreshold(range: [number, number]): void {
    toolUtils.segmentation.setBrushThresholdForToolGroup(TOOL_GROUP_ID, {
      range,
      isDynamic: false,
      dynamicRadius: 0,
    });
  }

  setWindow(lower: number, upper: number): void {
    if (!this.base) return;
    for (const id of VIEWPORTS)
      this.viewport(id).setProperties({ voiRange: { lower, upper } }, this.base.volumeId);
    this.engine.render();
    this.emit();
  }

  getWindow(): { lower: number; upper: number } | undefined {
    if (!this.base) return undefined;
    return this.viewport('axial').getProperties(this.base.volumeId)?.voiRange;
  }

  /** Voxel (i, j, k) under the camera focal point of a viewport. */
  focalIndex(id: ViewportName): [number, number, number] | undefined {
    if (!this.base?.imageData) return undefined;
    const cam = this.viewport(id).getCamera();
    const ijk = utilities.transformWorldToIndex(this.base.imageData, cam.focalPoint as Types.Point3);
    return [Math.round(ijk[0]), Math.round(ijk[1]), Math.round(ijk[2])];
  }

  /** Voxel (i, j, k) under a page point in a viewport, or undefined outside the volume. */
  indexAtPoint(id: ViewportName, clientX: number, clientY: number): [number, number, number] | undefined {
    if (!this.base?.imageData) return undefined;
    const r = this.elements[id].getBoundingClientRect();
    const world = this.viewport(id).canvasToWorld([clientX - r.left, clientY - r.top]);
    const ijk = (utilities.transformWorldToIndex(this.base.imageData, world) as number[]).map(Math.round);
    const d = this.geometry.dims;
    if (ijk.some((v: number, a: number) => v < 0 || v >= d[a])) return undefined;
    return ijk as [number, number, number];
  }

  /**
   * The voxel axis viewport `id` steps through: the one closest to its view-plane normal. A 3-D
   * FLAIR stored in sagittal slices has its axial view stepping through voxel axis 0, not 2.
   */
  axisOf(id: ViewportName): 0 | 1 | 2 {
    const n = this.base ? this.viewport(id).getCamera().viewPlaneNormal : undefined;
    const d = this.geometry?.direction;
    return n && d ? nearestVoxelAxis(n, d) : AXIS[id];
  }

  /**
   * The viewport that steps through the file's slices k (voxel axis 2), the slices proposals are
   * made, scored and reviewed by: the axial view for a file stored in axial slices.
   */
  sliceViewport(): ViewportName {
    return VIEWPORTS.find((id) => this.axisOf(id) === 2) ?? 'axial';
  }

  /** Screen directions of the view that shows the file's slices k (the Members panel draws them so). */
  sliceScreenAxes(): ScreenAxes | undefined {
    return this.base ? screenAxes(this.viewport(this.sliceViewport()).getCamera()) : undefined;
  }

  sliceInfo(id: ViewportName): SliceInfo {
    const axis = this.axisOf(id);
    const ijk = this.focalIndex(id);
    return { index: ijk ? ijk[axis] : 0, count: this.geometry ? this.geometry.dims[axis] : 0 };
  }

  /** Moves a viewport (its camera, along its normal) to voxel index `index` on its axis. */
  goToSlice(id: ViewportName, index: number): void {
    const ijk = this.focalIndex(id);
    if (!ijk || !this.base) return;
    const axis = this.axisOf(id);
    ijk[axis] = Math.max(0, Math.min(this.geometry.dims[axis] - 1, index));
    const target = this.base.imageData!.indexToWorld(ijk as Types.Point3) as Types.Point3;
    const vp = this.viewport(id);
    vp.setCamera(cameraOnPlaneOf(vp.getCamera(), target));
    vp.render();
    this.emit();
  }

  scroll(id: ViewportName, delta: number): void {
    const info = this.sliceInfo(id);
    this.goToSlice(id, info.index + delta);
  }

  resize(): void {
    this.engine?.resize(true, true);
    this.engine?.render();
  }

  render(): void {
    this.engine.render();
  }

  /**
   * Fits the image to each shown viewport (after a layout change: resize() keeps the camera, so
   * the 1x1 view kept the 1x3 zoom), centred, on the slice it was on. Hidden viewports (0 pixels
   * wide) are left for the next layout change that shows them.
   */
  fit(): void {
    if (!this.base) return;
    for (const id of VIEWPORTS) {
      if (!this.elements[id].clientWidth || !this.elements[id].clientHeight) continue;
      const { index } = this.sliceInfo(id);
      this.viewport(id).resetCamera();
      this.goToSlice(id, index);
    }
    this.engine.render();
    this.emit();
  }
}

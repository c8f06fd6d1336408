import { init as csInit, Enums, RenderingEngine, type Types, utilities } from '@cornerstonejs/core';
import {
  addTool,
  BidirectionalTool,
  BrushTool,
  CrosshairsTool,
  PaintFillTool,
  PanTool,
  StackScrollTool,
  Enums as ToolEnums,
  ToolGroupManager,
  type Types as ToolTypes,
  init as toolsInit,
  WindowLevelTool,
  ZoomTool,
} from '@cornerstonejs/tools';

/**
 * cornerstone3D set-up shared by the whole viewer: one rendering engine, three orthographic
 * viewports (axial, sagittal, coronal) in one tool group, and the editing tools.
 */

export const ENGINE_ID = 'quorum-engine';
export const TOOL_GROUP_ID = 'quorum-tools';
export const VIEWPORTS = ['axial', 'sagittal', 'coronal'] as const;
export type ViewportName = (typeof VIEWPORTS)[number];
export const UNCERTAINTY_COLORMAP = 'quorum-uncertainty';

/**
 * The mouse-primary tool: navigation (W/L), crosshairs, one of the label editors, or 'lesion':
 * click a proposed lesion to accept it, Shift+click to reject it (session.ts does that, no
 * cornerstone tool is primary then), or 'refine': click a missed lesion, Shift+click a false
 * positive, and the prompt model re-proposes there (refine.ts; no cornerstone tool either).
 */
export type ToolMode =
  | 'windowlevel'
  | 'crosshairs'
  | 'brush'
  | 'eraser'
  | 'threshold'
  | 'fill'
  | 'lesion'
  | 'refine';

/** Tools the session handles itself on click (no cornerstone tool is primary). */
export type ClickTool = 'lesion' | 'refine';

export const TOOL_NAMES: Record<Exclude<ToolMode, ClickTool>, string> = {
  windowlevel: WindowLevelTool.toolName,
  crosshairs: CrosshairsTool.toolName,
  brush: 'QuorumBrush',
  eraser: 'QuorumEraser',
  threshold: 'QuorumThresholdBrush',
  fill: PaintFillTool.toolName,
};

/** Stops of the uncertainty colour map over 0..1 of its range (also drawn by the colour bar). */
export const UNCERTAINTY_STOPS: [number, number, number, number][] = [
  [0, 0.0, 0.35, 1.0],
  [0.35, 0.0, 0.85, 1.0],
  [0.6, 0.3, 1.0, 0.3],
  [0.8, 1.0, 0.85, 0.0],
  [1, 1.0, 0.0, 1.0],
];

let initialized: Promise<void> | undefined;

export function initCornerstone(): Promise<void> {
  initialized ??= (async () => {
    csInit();
    toolsInit();
    for (const T of [
      WindowLevelTool,
      PanTool,
      ZoomTool,
      StackScrollTool,
      CrosshairsTool,
      BrushTool,
      PaintFillTool,
      BidirectionalTool,
    ])
      addTool(T);
    utilities.colormap.registerColormap({
      Name: UNCERTAINTY_COLORMAP,
      name: UNCERTAINTY_COLORMAP,
      ColorSpace: 'RGB',
      RGBPoints: UNCERTAINTY_STOPS.flat(),
    } as unknown as Types.ColormapRegistration);
  })();
  return initialized;
}

export function createEngine(elements: Record<ViewportName, HTMLDivElement>): RenderingEngine {
  const engine = new RenderingEngine(ENGINE_ID);
  const orientation: Record<ViewportName, Enums.OrientationAxis> = {
    axial: Enums.OrientationAxis.AXIAL,
    sagittal: Enums.OrientationAxis.SAGITTAL,
    coronal: Enums.OrientationAxis.CORONAL,
  };
  engine.setViewports(
    VIEWPORTS.map((id) => ({
      viewportId: id,
      type: Enums.ViewportType.ORTHOGRAPHIC,
      element: elements[id],
      defaultOptions: { orientation: orientation[id], background: [0, 0, 0] as Types.Point3 },
    })),
  );
  return engine;
}

export function createToolGroup(): ToolTypes.IToolGroup {
  ToolGroupManager.destroyToolGroup(TOOL_GROUP_ID);
  const group = ToolGroupManager.createToolGroup(TOOL_GROUP_ID)!;
  group.addTool(WindowLevelTool.toolName);
  group.addTool(PanTool.toolName);
  group.addTool(ZoomTool.toolName);
  group.addTool(StackScrollTool.toolName);
  group.addTool(CrosshairsTool.toolName, {
    getReferenceLineColor: (viewportId: string) =>
      ({ axial: 'rgb(255, 200, 0)', sagittal: 'rgb(0, 200, 255)', coronal: 'rgb(255, 80, 255)' })[
        viewportId as ViewportName
      ] ?? 'white',
    getReferenceLineControllable: () => true,
    getReferenceLineDraggableRotatable: () => false,
    getReferenceLineSlabThicknessControlsOn: () => false,
  });
  group.addToolInstance(TOOL_NAMES.brush, BrushTool.toolName, { activeStrategy: 'FILL_INSIDE_CIRCLE' });
  group.addToolInstance(TOOL_NAMES.eraser, BrushTool.toolName, { activeStrategy: 'ERASE_INSIDE_CIRCLE' });
  group.addToolInstance(TOOL_NAMES.threshold, BrushTool.toolName, {
    activeStrategy: 'THRESHOLD_INSIDE_CIRCLE',
  });
  group.addTool(PaintFillTool.toolName);
  // drawn, never driven by the mouse: the measurement's calipers (calipers.ts)
  group.addTool(BidirectionalTool.toolName);
  group.setToolEnabled(BidirectionalTool.toolName);
  for (const id of VIEWPORTS) group.addViewport(id, ENGINE_ID);

  const B = ToolEnums.MouseBindings;
  group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: B.Auxiliary }] });
  group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: B.Secondary }] });
  group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: B.Wheel }] });
  group.setToolActive(WindowLevelTool.toolName, { bindings: [{ mouseButton: B.Primary }] });
  return group;
}

/** Makes `mode` the primary-button tool; the others go passive (still drawn, not driven). */
export function setPrimaryTool(group: ToolTypes.IToolGroup, mode: ToolMode): void {
  for (const [m, name] of Object.entries(TOOL_NAMES) as [ToolMode, string][]) {
    if (m === mode) continue;
    if (m === 'crosshairs') group.setToolDisabled(name);
    else group.setToolPassive(name);
  }
  if (mode === 'lesion' || mode === 'refine') return;
  group.setToolActive(TOOL_NAMES[mode], { bindings: [{ mouseButton: ToolEnums.MouseBindings.Primary }] });
}

import {
  morphologicalContourInterpolation,
  setPipelinesBaseUrl,
} from '@itk-wasm/morphological-contour-interpolation';
import type { VolumeGeometry } from '../../../core/src/api.ts';
import {
  type InterpolationPipeline,
  type InterpolationResult,
  interpolateLabels,
  labelValues,
} from '../../../core/src/interpolate.ts';
import type { ViewportName } from './engine.ts';
import type { Session } from './session.ts';
import type { SessionCore } from './session-core.ts';
import { PENDING } from './viewer.ts';

/**
 * The morphological contour interpolation pipeline (ITK, compiled to WebAssembly by itk-wasm) in
 * the viewer, in a web worker so the page stays responsive.
 *
 * Where it runs, and why here: itk-wasm fetches its pipelines from a CDN by default; Quorum is
 * offline, so renderer/vite.config.ts copies the package's pipeline files (the Emscripten module
 * and its zstd-compressed .wasm) into the build, at `itk/` next to index.html, and this points
 * itk-wasm there. The page's own origin serves them in both modes (the browser-mode host over
 * HTTP, Electron's app:// protocol), and the worker is bundled by Vite as one of the app's
 * assets, so the CSP's "script-src 'self' 'wasm-unsafe-eval'" and "worker-src 'self'" cover it
 * (core/src/csp.ts; 'wasm-unsafe-eval' was already there for the image codecs), with one
 * addition: data: in connect-src, for the zstd decoder's fetch() of its own inlined .wasm. Running it
 * here rather than in the host keeps the labelmap on the page (no volume round-trip over the
 * socket or IPC) and needs no new API call. The tests run the same .wasm through the package's
 * Node build (test/integration/interpolate.test.ts).
 */
export const PIPELINES_PATH = 'itk';
/** A pipeline that has not answered by then is not coming (e.g. its worker failed to load). */
const TIMEOUT_MS = 120_000;

let configured = false;

export const browserInterpolation: InterpolationPipeline = async (image, axis) => {
  if (!configured) {
    // Absolute: the pipeline is fetched from inside the worker, whose base URL is assets/.
    setPipelinesBaseUrl(new URL(PIPELINES_PATH, document.baseURI).href);
    configured = true;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Interpolation did not finish within ${TIMEOUT_MS / 1000} s`)),
      TIMEOUT_MS,
    );
  });
  try {
    const run = morphologicalContourInterpolation(image, { label: 1, axis });
    const { outputImage } = await Promise.race([run, late]);
    return outputImage.data as Uint8Array;
  } finally {
    clearTimeout(timer);
  }
};

/**
 * The voxels that interpolating along voxel axis `axis` adds to `labels`: every label value but the
 * pending proposal, each on its own. Waits for an open stroke to be recorded first (it would
 * count these voxels as its own too); voxels labelled while the pipeline ran are left out.
 */
export async function interpolateAlong(
  labels: Uint8Array,
  g: VolumeGeometry,
  axis: 0 | 1 | 2,
  strokeOpen: () => boolean,
): Promise<InterpolationResult> {
  const values = labelValues(labels, [PENDING]);
  const r = await interpolateLabels(labels, g.dims, g.spacing, axis, values, browserInterpolation);
  for (let n = 0; n < 60 && strokeOpen(); n++) await new Promise((ok) => setTimeout(ok, 50));
  const keep = r.indices.map((i) => (labels[i] === 0 ? 1 : 0));
  return {
    ...r,
    indices: r.indices.filter((_, n) => keep[n]),
    values: r.values.filter((_, n) => keep[n]),
  };
}

/** The status line after an interpolation that set `voxels` voxels. */
export function interpolationNotice(view: ViewportName, r: InterpolationResult, voxels: number): string {
  if (!voxels) return `Nothing to interpolate: draw a lesion on two ${view} slices with empty slices between`;
  const filled = new Set(r.perValue.flatMap((v) => v.filled)).size;
  return `Interpolated ${filled} ${view} slice${filled === 1 ? '' : 's'} (${voxels} voxels)`;
}

/** Sessions with an interpolation running (one at a time each). */
const interpolating = new WeakSet<Session>();

/**
 * Fills the empty slices between slices drawn with each label value (pending proposals aside),
 * along the voxel axis `view` steps through (Viewer.axisOf: any voxel order), never over a
 * labelled voxel: one undo step.
 */
export async function interpolateCase(s: Session, core: SessionCore, view: ViewportName): Promise<void> {
  const labels = s.labels;
  if (!labels || !s.image || !s.history || interpolating.has(s) || core.editingPaused()) return;
  interpolating.add(s);
  core.set({ notice: 'Interpolating…' });
  try {
    const axis = s.viewer.axisOf(view);
    const r = await interpolateAlong(labels, s.image, axis, () => s.history?.strokeOpen ?? false);
    if (labels !== s.labels || !s.history) return; // another case was opened meanwhile
    const cmd = s.history.setEach('interpolate', r.indices, r.values);
    if (cmd) core.labelsChanged(cmd.slices);
    core.set({ notice: interpolationNotice(view, r, cmd?.indices.length ?? 0) });
  } catch (e) {
    s.fail(e);
  } finally {
    interpolating.delete(s);
  }
}

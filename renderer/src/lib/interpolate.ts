import {
  morphologicalContourInterpolation,
  setPipelinesBaseUrl,
} from '@itk-wasm/morphological-contour-interpolation';
import type { InterpolationPipeline } from '../../../core/src/interpolate.ts';

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

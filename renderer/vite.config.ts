import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, type Plugin } from 'vite';

// Builds the viewer into renderer/dist: served by the browser-mode host (workers/src/host/web.ts)
// and by Electron's app:// protocol. Relative asset paths suit both; nothing is fetched from
// outside the bundle at run time.
const here = dirname(fileURLToPath(import.meta.url));

/**
 * The slice-interpolation WebAssembly pipeline (src/lib/interpolate.ts) into dist/itk/: itk-wasm
 * would fetch it from a CDN, Quorum serves it itself. The files are copied as they ship (the
 * Emscripten module loads the .wasm.zst it is given, nothing else).
 */
function itkPipelines(): Plugin {
  const pkg = createRequire(import.meta.url).resolve('@itk-wasm/morphological-contour-interpolation');
  const dir = join(dirname(pkg), 'pipelines');
  return {
    name: 'quorum-itk-pipelines',
    apply: 'build',
    generateBundle() {
      for (const f of readdirSync(dir))
        this.emitFile({ type: 'asset', fileName: `itk/${f}`, source: readFileSync(join(dir, f)) });
    },
  };
}

export default defineConfig({
  root: here,
  base: './',
  plugins: [svelte(), itkPipelines()],
  resolve: {
    // Node built-ins reached by vtk.js's XML readers (bundled by cornerstone3D, never called).
    alias: {
      events: resolve(here, 'src/shims/events.ts'),
      url: resolve(here, 'src/shims/url.ts'),
    },
  },
  build: {
    outDir: resolve(here, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 6000,
    sourcemap: false,
  },
  worker: { format: 'es' },
  logLevel: 'warn',
});

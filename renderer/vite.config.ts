import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// Builds the viewer into renderer/dist: served by the browser-mode host (workers/src/host/web.ts)
// and by Electron's app:// protocol. Relative asset paths suit both; nothing is fetched from
// outside the bundle at run time.
const here = dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  plugins: [svelte()],
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

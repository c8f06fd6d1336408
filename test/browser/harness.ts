import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { SAMPLE_CASE, scratchDir } from '../../workers/src/host/service.ts';
import {
  RENDERER_DIST,
  startWebHost,
  type WebHost,
  type WebHostOptions,
} from '../../workers/src/host/web.ts';

/**
 * Browser-mode test harness: the real host (service + WebSocket API + built renderer) on a random
 * loopback port, and Debian Chromium driven by playwright-core with software WebGL2. Every request
 * that leaves 127.0.0.1 is aborted and recorded, so a test can assert the app stayed offline.
 */
// import.meta.url, not __dirname: bench/viewer.bench.ts runs this under tsx as plain ESM.
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DATA = resolve(REPO, '../shared/data');
export const ARTEFACTS = join(REPO, 'test-results', 'browser');
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  // WebGL stays on SwiftShader; the page's layers are composited by the CPU directly instead of
  // through a second emulated GL: case opens ~12% and brush drags ~18% faster, screenshots 2x
  '--disable-gpu-compositing',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

export interface Harness {
  page: Page;
  browser: Browser;
  context: BrowserContext;
  host: WebHost;
  /** The app's URL with the host's per-launch secret (`?token=`), as `npm start` prints it. */
  url: string;
  /** Requests to anything but the host, aborted. Should stay empty. */
  externalRequests: string[];
  /** Console errors and uncaught page errors, for diagnosis. */
  pageErrors: string[];
  /** Saves a PNG under test-results/browser/ and returns its bytes. */
  screenshot(name: string): Promise<Buffer>;
  cleanup(): Promise<void>;
}

export interface HarnessOptions extends WebHostOptions {
  viewport?: { width: number; height: number };
  /** Build renderer/dist first when missing or older than renderer/ sources (default true). */
  build?: boolean;
  /** Path appended to the URL, e.g. '?case=...'. */
  path?: string;
}

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist') continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** True when renderer/dist is missing or older than anything in renderer/ (also used by scripts/start.mjs). */
export function rendererStale(): boolean {
  const index = join(RENDERER_DIST, 'index.html');
  if (!existsSync(index)) return true;
  return newestMtime(join(REPO, 'renderer')) > statSync(index).mtimeMs;
}

export function buildRenderer(): void {
  execFileSync(
    process.execPath,
    [join(REPO, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'renderer/vite.config.ts'],
    {
      cwd: REPO,
      stdio: 'inherit',
    },
  );
}

/**
 * The page size of the browser tests: a 1024-pixel-wide screen, about one screen pixel per voxel of
 * the sample case in the 1x3 layout. Without a GPU, SwiftShader shades every pixel of the image on
 * the CPU for each redraw (three views per brush move): four brush drags took 11 s at 1400x900
 * and 6 s at this size (beside a training run), testing nothing more.
 */
export const TEST_VIEWPORT = { width: 1024, height: 720 };

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  if (opts.build !== false && !opts.rendererDir && rendererStale()) buildRenderer();
  const state = opts.stateDir ?? scratchDir('quorum-harness');
  // Like `npm run web`: the sample case is the initial case unless the test names another.
  const host = await startWebHost({
    port: 0,
    stateDir: state,
    outDir: join(state, 'exports'),
    initialCase: SAMPLE_CASE,
    ...opts,
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  const context = await browser.newContext({ viewport: opts.viewport ?? TEST_VIEWPORT });
  const page = await context.newPage();
  const externalRequests: string[] = [];
  const pageErrors: string[] = [];
  const origin = `127.0.0.1:${host.port}`;
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.host === origin || u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
    externalRequests.push(u.href);
    return route.abort('blockedbyclient');
  });
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  mkdirSync(ARTEFACTS, { recursive: true });
  // As a user does: open the printed link with the secret; the host swaps it for a cookie.
  const withPath = new URL(opts.path ?? '', host.url);
  withPath.searchParams.set('token', host.secret);
  const url = withPath.href;
  return {
    page,
    browser,
    context,
    host,
    url,
    externalRequests,
    pageErrors,
    screenshot: (name) => page.screenshot({ path: join(ARTEFACTS, `${name}.png`) }),
    async cleanup() {
      await browser.close().catch(() => {});
      await host.close();
    },
  };
}

/** Loads the app at `url` and waits until its case is open (window.__quorumTest.ready()). */
export async function openApp(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(
    () => (window as unknown as { __quorumTest?: { ready(): boolean } }).__quorumTest?.ready(),
    null,
    { timeout: 120_000 },
  );
}

/**
 * A page folder at `dist` that loads only the real QuorumApi socket client (core/src/api-socket.ts,
 * bundled) and exposes `window.connect()`: the API inside Chromium without the viewer.
 */
export async function buildApiPage(dist: string, title: string, body = ''): Promise<void> {
  const { build } = await import('esbuild');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(
    join(dist, 'index.html'),
    `<!doctype html><meta charset="utf-8"><title>${title}</title><script type="module" src="/assets/api.js"></script>${body}`,
  );
  writeFileSync(
    join(dist, 'entry.ts'),
    `import { connectQuorumApi } from '${join(REPO, 'core/src/api-socket.ts')}';
(window as any).connect = () => connectQuorumApi(window);`,
  );
  await build({
    entryPoints: [join(dist, 'entry.ts')],
    outfile: join(dist, 'assets', 'api.js'),
    bundle: true,
    format: 'esm',
    logLevel: 'warning',
  });
}

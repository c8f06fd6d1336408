/**
 * Viewer frame time in Chromium (browser mode, software WebGL2 via SwiftShader on this machine):
 * the sample case (240 x 240 x 155) in the 1x3 layout with both overlays on (labelmap with a real
 * proposal on a few slices, uncertainty fused with its colour map; both are full-volume textures,
 * so the cost does not depend on how much of them is filled). The axial viewport is scrolled
 * through all 155 slices by keyboard events dispatched in the page; each frame is timed from the
 * key event to cornerstone's IMAGE_RENDERED for that viewport. 'Overlays hidden' is the same scroll
 * with both toggled off (their actors stay in the viewport, drawn fully transparent).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { startHarness } from '../test/browser/harness.ts';
import type { BenchRow } from './types.ts';

export const title = 'viewer (Chromium, scroll 155 axial slices with both overlays)';

const SLICES = 155;

/** Runs in the page: scrolls the axial view from slice 0 to the last, timing each frame. */
const SCROLL = `(async () => {
  const t = window.__quorumTest;
  const el = document.querySelector('[data-viewport="axial"] .vp');
  t.goToSlice('axial', 0);
  await new Promise((r) => setTimeout(r, 300));
  const frame = () => new Promise((resolve) => {
    const t0 = performance.now();
    const done = () => { el.removeEventListener('CORNERSTONE_IMAGE_RENDERED', done); resolve(performance.now() - t0); };
    el.addEventListener('CORNERSTONE_IMAGE_RENDERED', done);
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowUp', bubbles: true }));
  });
  const out = [];
  for (let i = 1; i < ${SLICES}; i++) out.push(await frame());
  return { out, last: t.slice('axial') };
})()`;

/** CPU seconds (user + system) so far of this machine's processes, by kind: the browser's and the engine's. */
function cpuSeconds(): { browser: number; engine: number } {
  const out = { browser: 0, engine: 0 };
  const tick = 100; // USER_HZ on Linux
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const kind = cmd.includes('chromium') ? 'browser' : cmd.includes('engine') ? 'engine' : undefined;
      if (!kind) continue;
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      out[kind] += (Number(f[11]) + Number(f[12])) / tick;
    } catch {
      // the process ended between the listing and the read
    }
  }
  return out;
}

/**
 * Clicks "Whole volume" and waits for that run's closing message, doing `meanwhile` while it runs.
 * The previous run's message stays until this run's first event replaces it, so it is told apart.
 */
async function proposeWholeVolume<T>(page: Page, meanwhile: () => Promise<T>): Promise<T> {
  const previous = (await page.getByTestId('run-message').textContent())?.trim() ?? '';
  await page.getByTestId('propose-all').click();
  const result = await meanwhile();
  await page.waitForFunction(
    (old) => {
      const m = document.querySelector('[data-testid="run-message"]')?.textContent?.trim() ?? '';
      return /^Done: \d+ slices/.test(m) && m !== old;
    },
    previous,
    { timeout: 600_000 },
  );
  return result;
}

export async function run(): Promise<BenchRow[]> {
  const h = await startHarness({});
  try {
    await h.page.goto(h.url);
    await h.page.waitForFunction(
      () => (window as unknown as { __quorumTest?: { ready(): boolean } }).__quorumTest?.ready(),
      null,
      { timeout: 120_000 },
    );
    // A small real proposal so the overlays have content; then both overlays on.
    await h.page.getByTestId('members').fill('2');
    await h.page.getByTestId('steps').fill('2');
    await h.page.getByTestId('range-from').fill('79');
    await h.page.getByTestId('range-to').fill('81');
    await h.page.getByTestId('propose-range').click();
    await h.page.getByTestId('run-message').waitFor({ timeout: 180_000 });
    const measure = async (overlays: boolean) => {
      for (const id of ['toggle-labelmap', 'toggle-uncertainty'])
        await h.page.getByTestId(id).setChecked(overlays);
      const r = (await h.page.evaluate(SCROLL)) as { out: number[]; last: number };
      if (r.last !== SLICES - 1) throw new Error(`scrolled to ${r.last}, expected ${SLICES - 1}`);
      const sorted = [...r.out].sort((a, b) => a - b);
      return {
        mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
        p95: sorted[Math.min(sorted.length - 1, Math.floor(0.95 * sorted.length))],
        n: sorted.length,
      };
    };
    // A whole-volume proposal streamed into the viewer with both overlays on: wall time from the
    // click to the closing message, and where the CPU went (the page's redraws compete with the
    // engine for the same cores on a machine without a GPU).
    for (const id of ['toggle-labelmap', 'toggle-uncertainty']) await h.page.getByTestId(id).setChecked(true);
    await h.page.getByTestId('members').fill('5');
    await h.page.getByTestId('steps').fill('4');
    const before = cpuSeconds();
    const hostBefore = process.cpuUsage();
    const t0 = performance.now();
    await proposeWholeVolume(h.page, async () => undefined);
    const wall = (performance.now() - t0) / 1000;
    const after = cpuSeconds();
    const host = process.cpuUsage(hostBefore);
    const message = (await h.page.getByTestId('run-message').textContent()) ?? '';
    const streamNote = `sample case, 5 members, DDIM 4: ${message.trim()}`;
    const bare = await measure(false);
    const both = await measure(true);
    await h.screenshot('bench-viewer-scrolled');
    // Scrolling while another whole volume streams in (4 members: not the first run's samples,
    // which the engine keeps): what a reader feels while the engine works on the same cores.
    await h.page.getByTestId('members').fill('4');
    const during = await proposeWholeVolume(h.page, async () => {
      await h.page.getByTestId('run-count').waitFor({ timeout: 60_000 });
      await h.page.waitForTimeout(2000);
      return measure(true);
    });
    const note = `${both.n} frames, 1x3 layout, SwiftShader WebGL2 (no GPU), key event -> IMAGE_RENDERED`;
    return [
      { group: 'viewer', name: 'scroll frame time, both overlays, mean', value: both.mean, unit: 'ms', note },
      { group: 'viewer', name: 'scroll frame time, both overlays, p95', value: both.p95, unit: 'ms' },
      { group: 'viewer', name: 'scroll frame rate, both overlays', value: 1000 / both.mean, unit: 'fps' },
      { group: 'viewer', name: 'scroll frame time, overlays hidden, mean', value: bare.mean, unit: 'ms' },
      { group: 'viewer', name: 'scroll frame time, overlays hidden, p95', value: bare.p95, unit: 'ms' },
      {
        group: 'viewer',
        name: 'scroll frame time while a whole volume streams in, mean',
        value: during.mean,
        unit: 'ms',
        note: 'both overlays; 4 members, DDIM 4, the run after the first (new samples)',
      },
      {
        group: 'viewer',
        name: 'scroll frame time while a whole volume streams in, p95',
        value: during.p95,
        unit: 'ms',
      },
      {
        group: 'viewer',
        name: 'whole-volume proposal streamed in, click to done',
        value: wall,
        unit: 's',
        note: streamNote,
      },
      {
        group: 'viewer',
        name: 'whole-volume proposal: browser CPU',
        value: after.browser - before.browser,
        unit: 's',
        note: 'renderer + GPU (SwiftShader) processes',
      },
      {
        group: 'viewer',
        name: 'whole-volume proposal: engine CPU',
        value: after.engine - before.engine,
        unit: 's',
      },
      {
        group: 'viewer',
        name: 'whole-volume proposal: host CPU',
        value: (host.user + host.system) / 1e6,
        unit: 's',
        note: 'this process: the browser-mode host',
      },
    ];
  } finally {
    await h.cleanup();
  }
}

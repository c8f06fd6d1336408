import { join } from 'node:path';
import { type ElectronApplication, _electron as electron, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleElectron } from '../../electron/bundle.ts';
import { findElectron } from '../../electron/locate.ts';
import { buildRenderer, REPO, rendererStale } from './harness.ts';

/**
 * The real desktop shell, driven by Playwright's Electron support. Runs wherever an Electron
 * binary exists (a developer machine, CI with the binary cached); skipped where it does not,
 * e.g. this offline build box, whose npm install never downloaded it.
 */
const found = findElectron();
const reason = found.ok ? '' : ` — SKIPPED: ${found.reason}`;
if (!found.ok) console.warn(`electron.test.ts skipped: no Electron binary (${found.reason})`);

describe.skipIf(!found.ok)(`Electron shell${reason}`, () => {
  let app: ElectronApplication;
  let page: Page;

  beforeAll(async () => {
    if (rendererStale()) buildRenderer();
    await bundleElectron();
    app = await electron.launch({
      executablePath: (found as { path: string }).path,
      args: [join(REPO, 'electron', 'dist', 'main.js')],
      cwd: REPO,
    });
    page = await app.firstWindow();
    await page.waitForLoadState('domcontentloaded');
  });
  afterAll(async () => {
    await app?.close();
  });

  it('exposes only QuorumApi to a sandboxed, isolated page', async () => {
    expect(page.url()).toMatch(/^app:\/\/quorum\//);
    const probe = await page.evaluate(() => ({
      api: typeof (window as unknown as { quorum?: object }).quorum,
      require: typeof (window as unknown as { require?: unknown }).require,
      process: typeof (window as unknown as { process?: unknown }).process,
    }));
    expect(probe).toEqual({ api: 'object', require: 'undefined', process: 'undefined' });
    const info = await page.evaluate(() =>
      (
        window as unknown as { quorum: { getAppInfo(): Promise<{ mode: string; initialCase?: string }> } }
      ).quorum.getAppInfo(),
    );
    expect(info.mode).toBe('electron');
    expect(info.initialCase).toMatch(/brats_2013_pat0003$/);
  });

  it('refuses network requests and new windows', async () => {
    const external = await page.evaluate(() =>
      fetch('https://example.com/').then(
        () => 'reached',
        () => 'blocked',
      ),
    );
    expect(external).toBe('blocked');
    await page.evaluate(() => window.open('https://example.com/'));
    expect(app.windows()).toHaveLength(1);
  });

  it('opens the sample case and streams a volume over IPC as binary', async () => {
    const r = await page.evaluate(async () => {
      const api = (window as unknown as { quorum: import('../../core/src/api.ts').QuorumApi }).quorum;
      const c = await api.openSample();
      const v = await api.getVolume(c.id, 'flair');
      return { dims: v.dims, isFloat: v.data instanceof Float32Array, n: v.data.length };
    });
    expect(r.dims).toEqual([240, 240, 155]);
    expect(r.isFloat).toBe(true);
    expect(r.n).toBe(240 * 240 * 155);
  });
});

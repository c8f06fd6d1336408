import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ElectronApplication, _electron as electron, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleElectron } from '../../electron/bundle.ts';
import { findElectron } from '../../electron/locate.ts';
import { buildRenderer, REPO, rendererStale } from './harness.ts';

/**
 * The real desktop shell, driven by Playwright's Electron support, hardened paths included:
 * isolation, no network, navigation and new windows refused, the app:// path check, permissions
 * denied, the engine in a utilityProcess, the API over the MessagePort. Runs wherever an Electron
 * binary exists (a developer machine, CI with the binary cached); skipped where it does not,
 * e.g. this offline build box, whose npm install never downloaded it. (The fuses exist only in
 * packaged builds: test/unit/builder-config.test.ts checks the config that sets them.)
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

  it('refuses navigation away, also by redirect-free location changes and links', async () => {
    await page.evaluate(() => {
      window.location.href = 'https://example.com/';
    });
    await page.waitForTimeout(500);
    expect(page.url()).toMatch(/^app:\/\/quorum\//);
    await page.evaluate(() => {
      const a = document.createElement('a');
      a.href = 'file:///etc/passwd';
      document.body.append(a);
      a.click();
      a.remove();
    });
    await page.waitForTimeout(500);
    expect(page.url()).toMatch(/^app:\/\/quorum\//);
    expect(app.windows()).toHaveLength(1);
    // the API still answers over the same MessagePort afterwards
    const info = await page.evaluate(() =>
      (window as unknown as { quorum: { getAppInfo(): Promise<{ mode: string }> } }).quorum.getAppInfo(),
    );
    expect(info.mode).toBe('electron');
  });

  it('app:// serves renderer/dist only: no .., encoded or not, no sibling folder (renderer/dist-x)', async () => {
    // A sibling whose name starts with "dist": the old prefix check (no separator) served it.
    const sibling = join(REPO, 'renderer', 'dist-x');
    mkdirSync(sibling, { recursive: true });
    writeFileSync(join(sibling, 'secret.txt'), 'SECRET-SIBLING');
    try {
      const r = await page.evaluate(async () => {
        const get = (u: string) =>
          fetch(u).then(
            async (res) => ({ status: res.status, body: (await res.text()).slice(0, 2000) }),
            () => ({ status: -1, body: '' }),
          );
        return {
          index: await get('app://quorum/index.html'),
          // Chromium folds %2e%2e in a standard scheme's path; %2f is left for the handler
          sibling: await get('app://quorum/..%2fdist-x%2fsecret.txt'),
          sibling2: await get('app://quorum/%2e%2e%2fdist-x/secret.txt'),
          dotdot: await get('app://quorum/%2e%2e/%2e%2e/package.json'),
          encodedSlash: await get('app://quorum/..%2f..%2fpackage.json'),
          otherHost: await get('app://other/index.html'),
        };
      });
      expect(r.index.status).toBe(200);
      for (const k of ['sibling', 'sibling2', 'dotdot', 'encodedSlash', 'otherHost'] as const) {
        expect(r[k].body, k).not.toContain('SECRET-SIBLING');
        expect(r[k].body, k).not.toMatch(/"name":\s*"quorum"/);
      }
      expect(r.sibling.status).toBe(403);
      expect(r.encodedSlash.status).toBe(403);
    } finally {
      rmSync(sibling, { recursive: true, force: true });
    }
  });

  it('denies permissions (notifications, media)', async () => {
    const r = await page.evaluate(async () => ({
      notification: await Notification.requestPermission(),
      media: await navigator.mediaDevices.getUserMedia({ audio: true }).then(
        () => 'granted',
        () => 'denied',
      ),
    }));
    expect(r).toEqual({ notification: 'denied', media: 'denied' });
  });

  it('runs the engine in a utilityProcess, not a RunAsNode child', async () => {
    await page.evaluate(() =>
      (window as unknown as { quorum: { getAppInfo(): Promise<unknown> } }).quorum.getAppInfo(),
    );
    let names: string[] = [];
    for (let i = 0; i < 40 && !names.includes('Quorum engine'); i++) {
      names = await app.evaluate(({ app }) =>
        app
          .getAppMetrics()
          .filter((m) => m.type === 'Utility')
          .map((m) => m.name ?? m.serviceName ?? ''),
      );
      if (!names.includes('Quorum engine')) await page.waitForTimeout(250);
    }
    expect(names).toContain('Quorum engine');
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

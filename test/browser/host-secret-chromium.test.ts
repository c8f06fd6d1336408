import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../../workers/src/host/service.ts';
import { buildApiPage, type Harness, startHarness } from './harness.ts';

/**
 * The browser-mode host's per-launch secret, from a real Chromium: a page opened without the
 * printed link gets 403 and cannot open the API socket, a page on another origin cannot open it
 * even when the browser holds the cookie, and the printed link loads the page, hides the secret
 * (clean URL, HttpOnly cookie) and the real API client answers.
 */
describe('per-launch secret in Chromium', () => {
  let h: Harness;
  let other: Server;
  let otherPort = 0;
  const dist = scratchDir('quorum-secret-page');

  beforeAll(async () => {
    await buildApiPage(dist, 'secret', '<body>quorum page</body>');
    h = await startHarness({ rendererDir: dist, build: false });
    // Another local site (as another local user's server, or a page a user was lured to).
    other = createServer((_req, res) =>
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>other</title>'),
    );
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
    otherPort = (other.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await h?.cleanup();
    await new Promise((r) => other?.close(r));
    rmSync(dist, { recursive: true, force: true });
  });

  /** Opens ws://127.0.0.1:<host port>/api from the page: 'open' or 'refused'. */
  const openSocket = (page: Page) =>
    page.evaluate(
      (port) =>
        new Promise<string>((r) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/api`);
          ws.onopen = () => {
            ws.close();
            r('open');
          };
          ws.onerror = () => r('refused');
        }),
      h.host.port,
    );

  it('without the printed link: 403, no page, and the API socket is refused', async () => {
    const context = await h.browser.newContext();
    try {
      const page = await context.newPage();
      const res = await page.goto(h.host.url);
      expect(res?.status()).toBe(403);
      expect(await page.content()).not.toContain('quorum page');
      expect(await page.content()).toContain('token');
      expect(await openSocket(page)).toBe('refused');
      const asset = await page.evaluate(async () => (await fetch('/assets/api.js')).status);
      expect(asset).toBe(403);
    } finally {
      await context.close();
    }
  });

  it('with the printed link: clean URL, HttpOnly cookie, and the API answers', async () => {
    const page = h.page;
    const res = await page.goto(h.url);
    expect(res?.status()).toBe(200);
    expect(page.url()).toBe(h.host.url); // the secret left the address bar
    expect(await page.evaluate(() => document.cookie)).toBe(''); // HttpOnly: scripts cannot read it
    const cookies = await h.context.cookies(h.host.url);
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: 'Strict', value: h.host.secret });
    const info = await page.evaluate(async () => {
      const api = await (
        window as unknown as {
          connect(): Promise<{ getAppInfo(): Promise<{ mode: string; initialCase?: string }> }>;
        }
      ).connect();
      const app = await api.getAppInfo();
      return { mode: app.mode, initial: app.initialCase };
    });
    expect(info.mode).toBe('browser');
    expect(info.initial).toBeTruthy();
    // Reload and other paths keep working on the cookie alone.
    expect((await page.goto(`${h.host.url}some/route`))?.status()).toBe(200);
    expect(await openSocket(page)).toBe('open');
  });

  it('a page on another origin cannot open the socket, even with the cookie in the browser', async () => {
    const context: BrowserContext = await h.browser.newContext();
    try {
      const own = await context.newPage();
      expect((await own.goto(h.url))?.status()).toBe(200); // the browser now holds the cookie
      expect(await openSocket(own)).toBe('open');
      for (const site of [`http://127.0.0.1:${otherPort}/`, `http://localhost:${otherPort}/`]) {
        const page = await context.newPage();
        await page.goto(site);
        expect(await openSocket(page), site).toBe('refused');
        const read = await page.evaluate(
          (u) =>
            fetch(u).then(
              (r) => `status ${r.status}`,
              () => 'blocked',
            ),
          h.host.url,
        );
        expect(read, site).toBe('blocked'); // CORS/CORP: the page cannot read the app either
        await page.close();
      }
    } finally {
      await context.close();
    }
  });
});

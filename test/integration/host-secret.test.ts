import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { WS_PATH } from '../../core/src/api.ts';
import { scratchDir } from '../../workers/src/host/service.ts';
import { startWebHost, type WebHost } from '../../workers/src/host/web.ts';
import { cookieName, isLoopback, sameSecret } from '../../workers/src/host/web-auth.ts';
import { connectApi } from '../helpers/dataset.ts';

/** How a WebSocket attempt ends: 'open', or the HTTP status of the refused upgrade. */
function tryWs(port: number, headers: Record<string, string>): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${WS_PATH}`, { headers });
  return new Promise((r) => {
    ws.on('open', () => {
      ws.close();
      r('open');
    });
    ws.on('unexpected-response', (_req, res) => r(`refused ${res.statusCode}`));
    ws.on('error', () => r('refused'));
  });
}

/** A raw HTTP request (fetch cannot send a request-target like `//x` or skip redirects cleanly). */
function raw(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('browser-mode host: per-launch secret on every request (plain Node client)', () => {
  let host: WebHost;
  const state = scratchDir('quorum-secret-state');
  const dist = scratchDir('quorum-secret-dist');

  beforeAll(async () => {
    mkdirSync(join(dist, 'assets'));
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Quorum secret page</title>');
    writeFileSync(join(dist, 'assets', 'app.js'), 'console.log(1)');
    host = await startWebHost({ port: 0, rendererDir: dist, stateDir: state, outDir: state });
  });
  afterAll(async () => {
    await host?.close();
    rmSync(state, { recursive: true, force: true });
    rmSync(dist, { recursive: true, force: true });
  });

  it('makes a new secret of at least 128 bits at each launch, carried by the printed URL', async () => {
    expect(Buffer.from(host.secret, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
    expect(host.launchUrl).toBe(`${host.url}?token=${host.secret}`);
    const other = await startWebHost({ port: 0, rendererDir: dist, stateDir: state, outDir: state });
    try {
      expect(other.secret).not.toBe(host.secret);
    } finally {
      await other.close();
    }
    await expect(startWebHost({ port: 0, rendererDir: dist, secret: 'short' })).rejects.toThrow(/128 bits/);
    expect(sameSecret(host.secret, host.secret)).toBe(true);
    expect(sameSecret(`${host.secret}x`, host.secret)).toBe(false);
    expect(sameSecret(undefined, host.secret)).toBe(false);
  });

  it('refuses HTTP without the secret: 403 for every path and method, no file served', async () => {
    for (const path of ['/', '/index.html', '/assets/app.js', '/some/route', '/missing.js']) {
      const r = await raw(host.port, path);
      expect(r.status, path).toBe(403);
      expect(r.body).not.toContain('Quorum secret page');
      expect(r.body).not.toContain('console.log');
    }
    expect((await raw(host.port, '/', {}, 'POST')).status).toBe(403);
    expect((await raw(host.port, '/', {}, 'HEAD')).status).toBe(403);
    // A wrong secret, as a cookie or in the URL; another port's cookie name.
    expect((await raw(host.port, '/', { Cookie: `${cookieName(host.port)}=nope` })).status).toBe(403);
    expect(
      (await raw(host.port, '/', { Cookie: `${cookieName(host.port + 1)}=${host.secret}` })).status,
    ).toBe(403);
    expect((await raw(host.port, `/?token=${host.secret.slice(1)}`)).status).toBe(403);
    expect((await raw(host.port, '/?token=')).status).toBe(403);
  });

  it('exchanges the token URL for an HttpOnly SameSite=Strict cookie and redirects to the clean URL', async () => {
    const r = await raw(host.port, `/?token=${host.secret}`);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/');
    const set = String(r.headers['set-cookie']);
    expect(set).toContain(`${cookieName(host.port)}=${host.secret}`);
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
    expect(set).not.toMatch(/Expires|Max-Age/i); // gone with the browser session
    // Other query parameters stay; a path that would read as another host does not.
    const q = await raw(host.port, `/view?case=%2Fdata%2Fx&token=${host.secret}`);
    expect(q.headers.location).toBe('/view?case=%2Fdata%2Fx');
    const odd = await raw(host.port, `/.//evil.example/?token=${host.secret}`);
    expect(String(odd.headers.location).startsWith('//')).toBe(false);
    // With the cookie, the page and its files are served.
    const page = await raw(host.port, '/', { Cookie: host.cookie });
    expect(page.status).toBe(200);
    expect(page.body).toContain('Quorum secret page');
  });

  it('refuses the WebSocket upgrade without the secret, with a wrong one, or from another origin', async () => {
    expect(await tryWs(host.port, {})).toBe('refused 403');
    expect(await tryWs(host.port, { Cookie: `${cookieName(host.port)}=${'A'.repeat(43)}` })).toBe(
      'refused 403',
    );
    expect(await tryWs(host.port, { Origin: `http://127.0.0.1:${host.port}` })).toBe('refused 403');
    for (const Origin of ['http://evil.example', `http://127.0.0.1:${host.port + 1}`, 'null']) {
      expect(await tryWs(host.port, { Cookie: host.cookie, Origin }), Origin).toBe('refused 403');
    }
    // DNS rebinding: the right cookie cannot reach here under another name, but the Host is checked too.
    expect(await tryWs(host.port, { Cookie: host.cookie, Host: `evil.example:${host.port}` })).toBe(
      'refused 403',
    );
    // The host's own origin with the cookie (what the page does), and no Origin (a Node client).
    expect(await tryWs(host.port, { Cookie: host.cookie, Origin: `http://127.0.0.1:${host.port}` })).toBe(
      'open',
    );
    expect(await tryWs(host.port, { Cookie: host.cookie })).toBe('open');
  });

  it('answers the API once authenticated', async () => {
    const { api, ws } = await connectApi(host);
    try {
      expect((await api.getAppInfo()).mode).toBe('browser');
    } finally {
      ws.close();
    }
  });

  it('warns when bound to a non-loopback address, and still requires the secret there', async () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('0.0.0.0')).toBe(false);
    const lines: string[] = [];
    const wide = await startWebHost({
      port: 0,
      bind: '0.0.0.0',
      rendererDir: dist,
      stateDir: state,
      outDir: state,
      log: (l) => lines.push(l),
    });
    try {
      expect(lines.join('\n')).toMatch(/WARNING: listening on 0\.0\.0\.0/);
      expect((await raw(wide.port, '/')).status).toBe(403);
      expect(await tryWs(wide.port, {})).toBe('refused 403');
      expect((await raw(wide.port, '/', { Cookie: wide.cookie })).status).toBe(200);
    } finally {
      await wide.close();
    }
    const quiet: string[] = [];
    const local = await startWebHost({
      port: 0,
      rendererDir: dist,
      stateDir: state,
      outDir: state,
      log: (l) => quiet.push(l),
    });
    await local.close();
    expect(quiet.join('\n')).not.toContain('WARNING');
  });
});

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type QuorumApi, WS_PATH } from '../../core/src/api.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { ApiError } from '../../core/src/rpc/errors.ts';
import { SAMPLE_CASE, scratchDir } from '../../workers/src/host/service.ts';
import { startWebHost, type WebHost } from '../../workers/src/host/web.ts';
import { connectApi } from '../helpers/dataset.ts';

describe('browser-mode host: HTTP + WebSocket API on 127.0.0.1', () => {
  let host: WebHost;
  let api: QuorumApi;
  let ws: WebSocket;
  const state = scratchDir('quorum-web-state');
  const dist = scratchDir('quorum-web-dist');
  /** GET with the host's secret cookie, as the page sends it once the printed link is opened. */
  const get = (url: string) => fetch(url, { headers: { Cookie: host.cookie } });

  beforeAll(async () => {
    mkdirSync(join(dist, 'assets'));
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Quorum test page</title>');
    writeFileSync(join(dist, 'assets', 'app.js'), 'console.log(1)');
    host = await startWebHost({ port: 0, rendererDir: dist, stateDir: state, outDir: state });
    ({ api, ws } = await connectApi(host));
  });
  afterAll(async () => {
    ws?.close();
    await host?.close();
    rmSync(state, { recursive: true, force: true });
    rmSync(dist, { recursive: true, force: true });
  });

  it('listens on loopback only, with a strict CSP and no external sources', async () => {
    expect(host.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const r = await get(host.url);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('Quorum test page');
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${host.port}`);
    expect(csp).not.toMatch(/https?:\/\/(?!127)/);
    expect(r.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect((await get(`${host.url}assets/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    expect((await get(`${host.url}some/route`)).status).toBe(200); // SPA fallback
    expect((await get(`${host.url}missing.js`)).status).toBe(404);
    expect([403, 404]).toContain((await get(`${host.url}..%2f..%2fpackage.json`)).status); // never the repo file
  });

  it('refuses API sockets from other origins', async () => {
    const evil = new WebSocket(`ws://127.0.0.1:${host.port}${WS_PATH}`, {
      headers: { Origin: 'http://evil.example', Cookie: host.cookie },
    });
    const outcome = await new Promise<string>((r) => {
      evil.on('open', () => r('open'));
      evil.on('error', () => r('refused'));
    });
    expect(outcome).toBe('refused');
  });

  it('opens the sample and streams its voxels as binary, identical to the file', async () => {
    const info = await api.openSample();
    expect(info.root).toBe(SAMPLE_CASE);
    const v = await api.getVolume(info.id, 'flair');
    expect(v.data).toBeInstanceOf(Float32Array);
    const ref = await loadVolume(join(SAMPLE_CASE, 'flair.nii.gz'));
    expect(v.data.length).toBe(ref.data.length);
    let same = true;
    for (let i = 0; i < ref.data.length; i++) if (v.data[i] !== ref.data[i]) same = false;
    expect(same).toBe(true);
    expect(v.dims).toEqual(ref.dims);
  });

  it('opens dropped files sent as bytes (browser drag-and-drop has no paths)', async () => {
    const files = ['flair.nii.gz', 't1c.nii.gz'].map((name) => {
      const b = readFileSync(join(SAMPLE_CASE, name));
      return { name: `case7_${name}`, bytes: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) };
    });
    const info = await api.openUploaded(files);
    expect(info.sequences.map((s) => s.sequence).sort()).toEqual(['flair', 't1c']);
    expect(info.root.startsWith(state)).toBe(true);
    const up = await api.getVolume(info.id, 't1c');
    const ref = await loadVolume(join(SAMPLE_CASE, 't1c.nii.gz'));
    expect(up.data[5_000_000]).toBe(ref.data[5_000_000]);
    const bad = await api
      .openUploaded([{ name: '../../evil.nii', bytes: new ArrayBuffer(10) }])
      .catch((e) => e);
    expect(bad.code).toBe('not-nifti');
  });

  it('reports errors as ApiError with the QuorumError code and file', async () => {
    const e = await api.openCase('/no/such/case').catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe('not-found');
    expect(e.message).toContain('/no/such/case');
    const info = await api.getAppInfo();
    expect(info.mode).toBe('browser');
    expect(info.nativeDialogs).toBe(false);
    expect(await api.pickPaths('folder')).toBeNull();
  });
});

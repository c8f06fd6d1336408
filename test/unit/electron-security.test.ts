import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  isAppUrl,
  isTrustedSender,
  permissionAllowed,
  requestAllowed,
  resolveAppFile,
} from '../../electron/security.ts';
import { parentTransport } from '../../workers/src/engine/transport.ts';

/**
 * The Electron shell's trust decisions (electron/security.ts), tested without Electron: the
 * app:// path check, the IPC sender check, permissions, requests; and the engine's transport
 * adapter for utilityProcess. test/browser/electron.test.ts checks them in the real app.
 */
describe('app:// path check', () => {
  const root = resolve(mkdtempSync(join(tmpdir(), 'quorum-app-')), 'renderer', 'dist');
  mkdirSync(join(root, 'assets'), { recursive: true });
  mkdirSync(`${root}-x`, { recursive: true });
  writeFileSync(`${root}-x${sep}secret.txt`, 'no');

  it('serves files under the root, index.html for / and ""', () => {
    expect(resolveAppFile(root, '/index.html')).toBe(join(root, 'index.html'));
    expect(resolveAppFile(root, '/assets/index.js')).toBe(join(root, 'assets', 'index.js'));
    expect(resolveAppFile(root, '/')).toBe(join(root, 'index.html'));
    expect(resolveAppFile(root, '')).toBe(join(root, 'index.html'));
    expect(resolveAppFile(root, '/assets/a%20b.js')).toBe(join(root, 'assets', 'a b.js'));
    expect(resolveAppFile(root, '/assets/..foo.js')).toBe(join(root, 'assets', '..foo.js'));
  });

  it('refuses a sibling whose name starts with the root (renderer/dist-x)', () => {
    expect(resolveAppFile(root, '/../dist-x/secret.txt')).toBeNull();
    expect(resolveAppFile(root, '/%2e%2e/dist-x/secret.txt')).toBeNull();
    // what the old prefix check (startsWith(RENDERER)) let through
    expect(`${root}-x${sep}secret.txt`.startsWith(root)).toBe(true);
  });

  it('refuses .., encoded or not, and anything resolving outside', () => {
    for (const p of [
      '/..',
      '/../',
      '/../../etc/passwd',
      '/assets/../../x',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/%2E%2E%2Fsecret',
      '/assets%2f..%2f..%2fx',
      '/..%5c..%5cx',
      '/a\\..\\..\\x',
    ])
      expect(resolveAppFile(root, p), p).toBeNull();
  });

  it('refuses absolute paths, drive letters, NUL bytes, malformed escapes', () => {
    for (const p of ['/C:/Windows/win.ini', '/c:%5cx', '/index.html%00.png', '/%E0%A4%A', '/%00'])
      expect(resolveAppFile(root, p), p).toBeNull();
    // an absolute path in the URL is taken relative to the root, never as a file system path
    for (const p of ['//etc/passwd', '/%2Fetc%2Fpasswd', '/%2F%2Fetc%2Fpasswd'])
      expect(resolveAppFile(root, p), p).toBe(join(root, 'etc', 'passwd'));
  });
});

describe('IPC sender, navigation, permissions, requests', () => {
  it('the app origin is app://quorum only, parsed', () => {
    expect(isAppUrl('app://quorum/index.html')).toBe(true);
    expect(isAppUrl('app://quorum/')).toBe(true);
    for (const u of [
      'app://quorum.evil/index.html',
      'app://quorumx/',
      'app://evil@quorum/',
      'app://quorum:81/',
      'https://quorum/',
      'file:///app://quorum/',
      'https://example.com/?app://quorum/',
      'javascript:alert(1)',
      'not a url',
      '',
    ])
      expect(isAppUrl(u), u).toBe(false);
  });

  it('IPC is trusted from the app main frame only', () => {
    expect(isTrustedSender({ url: 'app://quorum/index.html', isMainFrame: true })).toBe(true);
    expect(isTrustedSender({ url: 'app://quorum/index.html', isMainFrame: false })).toBe(false);
    expect(isTrustedSender({ url: 'https://example.com/', isMainFrame: true })).toBe(false);
    expect(isTrustedSender({ url: 'file:///tmp/x.html', isMainFrame: true })).toBe(false);
    expect(isTrustedSender({ url: undefined, isMainFrame: true })).toBe(false);
  });

  it('every permission is refused, for the app too', () => {
    for (const p of [
      'media',
      'notifications',
      'geolocation',
      'clipboard-read',
      'openExternal',
      'hid',
      'serial',
    ])
      for (const origin of ['app://quorum/', 'https://example.com/', undefined])
        expect(permissionAllowed(p, origin), `${p} ${origin}`).toBe(false);
  });

  it('requests: the app, data:, blob: and devtools only; no network, no file://', () => {
    expect(requestAllowed('app://quorum/assets/index.js')).toBe(true);
    expect(requestAllowed('data:image/png;base64,AAAA')).toBe(true);
    expect(requestAllowed('blob:app://quorum/1234')).toBe(true);
    for (const u of [
      'https://example.com/',
      'http://127.0.0.1:8080/',
      'ws://localhost/',
      'file:///etc/passwd',
    ])
      expect(requestAllowed(u), u).toBe(false);
  });
});

describe("engine transport adapter (utilityProcess's parentPort)", () => {
  const proc = process as { parentPort?: unknown };
  afterEach(() => {
    delete proc.parentPort;
  });

  it('uses process.parentPort when there is one: postMessage out, e.data in', () => {
    const sent: unknown[] = [];
    let onMsg: ((e: { data: unknown }) => void) | undefined;
    proc.parentPort = {
      postMessage: (m: unknown) => sent.push(m),
      on: (_ev: 'message', l: (e: { data: unknown }) => void) => {
        onMsg = l;
      },
    };
    const t = parentTransport();
    const got: unknown[] = [];
    t.onMessage((m) => got.push(m));
    const msg = { t: 'call', id: 1, method: 'info', args: [] } as never;
    t.send(msg);
    onMsg?.({ data: { t: 'result', id: 1, value: new Float32Array([1, 2]) } });
    expect(sent).toEqual([msg]);
    expect(got).toEqual([{ t: 'result', id: 1, value: new Float32Array([1, 2]) }]);
  });

  it('falls back to Node IPC without one (send is a no-op when not connected)', () => {
    const t = parentTransport();
    expect(() => t.send({ t: 'call', id: 1, method: 'x', args: [] } as never)).not.toThrow();
  });
});

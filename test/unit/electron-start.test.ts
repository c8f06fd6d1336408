import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decideDesktop,
  type ElectronLookup,
  findElectron,
  runElectronInstaller,
} from '../../electron/locate.ts';
import { REPO } from '../helpers/paths.ts';

/**
 * `npm start`'s choice (electron/locate.ts decideDesktop, called by scripts/start.mjs): the
 * desktop app when Electron's binary is there; else Electron's own installer, once; browser mode
 * with one line saying why only when that fails.
 */
const missing: ElectronLookup = { ok: false, reason: 'the Electron binary was never downloaded' };
const there: ElectronLookup = { ok: true, path: '/opt/electron/electron' };

function fakes(finds: ElectronLookup[], install: { ok: boolean; detail: string }) {
  const calls = { install: 0, log: [] as string[] };
  let i = 0;
  return {
    calls,
    deps: {
      find: () => finds[Math.min(i++, finds.length - 1)],
      install: async () => {
        calls.install++;
        return install;
      },
      log: (l: string) => calls.log.push(l),
      env: {},
    },
  };
}

describe('npm start: desktop or browser mode', () => {
  it('binary there: the desktop app, no installer', async () => {
    const f = fakes([there], { ok: true, detail: '' });
    expect(await decideDesktop(f.deps)).toEqual({ desktop: true, path: there.path });
    expect(f.calls.install).toBe(0);
  });

  it("binary missing: runs Electron's installer once, then the desktop app", async () => {
    const f = fakes([missing, there], { ok: true, detail: '' });
    expect(await decideDesktop(f.deps)).toEqual({ desktop: true, path: there.path });
    expect(f.calls.install).toBe(1);
    expect(f.calls.log.join('\n')).toMatch(/running Electron's installer/);
  });

  it('installer fails (offline): browser mode, one line saying why', async () => {
    const f = fakes([missing, missing], { ok: false, detail: 'fetch failed' });
    const d = await decideDesktop(f.deps);
    expect(f.calls.install).toBe(1);
    expect(d.desktop).toBe(false);
    const message = (d as { message: string }).message;
    expect(message).not.toContain('\n');
    expect(message).toMatch(/^quorum: cannot start the desktop app: Electron's installer could not fetch/);
    expect(message).toMatch(/fetch failed; offline\?/);
    expect(message).toMatch(/starting browser mode instead/);
  });

  it('ELECTRON_OVERRIDE_DIST_PATH pointing at nothing: no installer, says so', async () => {
    const f = fakes([{ ok: false, reason: 'ELECTRON_OVERRIDE_DIST_PATH has no /x/electron' }], {
      ok: true,
      detail: '',
    });
    const d = await decideDesktop({ ...f.deps, env: { ELECTRON_OVERRIDE_DIST_PATH: '/x' } });
    expect(f.calls.install).toBe(0);
    expect((d as { message: string }).message).toMatch(/ELECTRON_OVERRIDE_DIST_PATH has no \/x\/electron/);
  });

  it("the real installer, on a mirror that cannot answer: browser mode with the installer's reason", async () => {
    // Port 9 (discard) on loopback refuses at once; on a machine whose binary is already there,
    // install.js exits 0 without downloading and the desktop app is chosen.
    const env: NodeJS.ProcessEnv = { ...process.env, ELECTRON_MIRROR: 'http://127.0.0.1:9/' };
    delete env.ELECTRON_OVERRIDE_DIST_PATH;
    const log: string[] = [];
    const d = await decideDesktop({ install: () => runElectronInstaller(env), log: (l) => log.push(l), env });
    if (findElectron().ok) {
      expect(d.desktop).toBe(true);
      return;
    }
    expect(log).toHaveLength(1);
    expect(d.desktop).toBe(false);
    const message = (d as { message: string }).message;
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toMatch(
      /Electron's installer could not fetch the binary \(.+; offline\?\); starting browser mode/,
    );
  }, 60_000);

  it('scripts/start.mjs prints that line and then starts browser mode', () => {
    const text = readFileSync(join(REPO, 'scripts', 'start.mjs'), 'utf8');
    expect(text).toMatch(/decideDesktop\(\)/);
    expect(text).toMatch(/console\.log\(why\)/);
    expect(text).toMatch(/runBrowserMode/);
  });
});

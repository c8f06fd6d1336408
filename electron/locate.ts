import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname ?? __dirname, '..');

export type ElectronLookup = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Finds the Electron executable WITHOUT calling require('electron'): that call downloads the
 * binary when it is missing, and Quorum never touches the network. Same rules as the electron
 * package: ELECTRON_OVERRIDE_DIST_PATH, else node_modules/electron/path.txt + dist/.
 */
export function findElectron(): ElectronLookup {
  const pkg = join(REPO, 'node_modules', 'electron');
  if (!existsSync(join(pkg, 'package.json')))
    return { ok: false, reason: 'the electron package is not installed (node_modules/electron)' };
  const pathFile = join(pkg, 'path.txt');
  const exe = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : undefined;
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  if (override) {
    const p = join(override, exe ?? (process.platform === 'win32' ? 'electron.exe' : 'electron'));
    return existsSync(p)
      ? { ok: true, path: p }
      : { ok: false, reason: `ELECTRON_OVERRIDE_DIST_PATH has no ${p}` };
  }
  if (!exe)
    return {
      ok: false,
      reason:
        'the Electron binary was never downloaded (node_modules/electron has no path.txt/dist: installs here run with ignore-scripts and no network)',
    };
  const p = join(pkg, 'dist', exe);
  return existsSync(p)
    ? { ok: true, path: p }
    : { ok: false, reason: `the Electron binary is missing at ${p}` };
}

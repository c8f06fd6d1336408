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
        'the Electron binary was never downloaded (node_modules/electron has no path.txt: npm ran with ignore-scripts)',
    };
  const p = join(pkg, 'dist', exe);
  return existsSync(p)
    ? { ok: true, path: p }
    : { ok: false, reason: `the Electron binary is missing at ${p}` };
}

export interface InstallResult {
  ok: boolean;
  /** Why it failed, one line (the installer's own error message). */
  detail: string;
}

/**
 * Runs Electron's own installer (node_modules/electron/install.js: downloads the binary for
 * this platform, checks it against the package's checksums, writes path.txt). Its progress
 * goes to the terminal; its stack trace on failure does not, only the error's message.
 */
export function runElectronInstaller(env: NodeJS.ProcessEnv = process.env): Promise<InstallResult> {
  const script = join(REPO, 'node_modules', 'electron', 'install.js');
  return new Promise((done) => {
    // import() of child_process at call time: locate.ts is also loaded where spawning is moot.
    void import('node:child_process').then(({ spawn }) => {
      const child = spawn(process.execPath, [script], {
        cwd: join(REPO, 'node_modules', 'electron'),
        env,
        stdio: ['ignore', 'inherit', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        const text = d.toString();
        err = (err + text).slice(-8000);
        // progress and notices pass through; the stack trace of a failure is summed up below
        if (!/^\s*at |Error\b/m.test(text)) process.stderr.write(text);
      });
      const timer = setTimeout(() => child.kill(), 15 * 60_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        done({ ok: false, detail: e.message });
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        const message = /^\s*(?:[A-Za-z]*Error|Error)(?:\s*\[[^\]]*\])?:\s*(.+)$/m.exec(err)?.[1]?.trim();
        done({
          ok: code === 0,
          detail:
            message ??
            (signal ? `stopped by ${signal}` : `exit ${code}: ${err.trim().split('\n').pop() ?? ''}`),
        });
      });
    });
  });
}

export type DesktopDecision = { desktop: true; path: string } | { desktop: false; message: string };

export interface DesktopDeps {
  find: () => ElectronLookup;
  install: () => Promise<InstallResult>;
  log: (line: string) => void;
  env: NodeJS.ProcessEnv;
}

const FALLBACK = 'starting browser mode instead (same viewer, same engine; README "Desktop app")';

/**
 * `npm start`'s choice: the desktop app when an Electron binary is there; else Electron's own
 * installer, once; browser mode only when that fails too (offline), with one line saying why.
 * No installer run when ELECTRON_OVERRIDE_DIST_PATH names a binary that is not there (the user
 * chose it) or when the electron package itself is missing.
 */
export async function decideDesktop(deps: Partial<DesktopDeps> = {}): Promise<DesktopDecision> {
  const {
    find = findElectron,
    install = () => runElectronInstaller(),
    log = console.log,
    env = process.env,
  } = deps;
  const first = find();
  if (first.ok) return { desktop: true, path: first.path };
  const installer = join(REPO, 'node_modules', 'electron', 'install.js');
  if (env.ELECTRON_OVERRIDE_DIST_PATH || !existsSync(installer))
    return { desktop: false, message: `quorum: cannot start the desktop app: ${first.reason}; ${FALLBACK}.` };
  log(`quorum: ${first.reason}; running Electron's installer (node_modules/electron/install.js)...`);
  const r = await install();
  const second = find();
  if (second.ok) return { desktop: true, path: second.path };
  const why = r.ok
    ? second.reason
    : `Electron's installer could not fetch the binary (${r.detail}; offline?)`;
  return { desktop: false, message: `quorum: cannot start the desktop app: ${oneLine(why)}; ${FALLBACK}.` };
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 300 ? `${t.slice(0, 297)}...` : t;
}

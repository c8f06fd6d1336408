#!/usr/bin/env node
// `npm start [case]`: the Electron app; when its binary is missing, Electron's own installer
// runs once (it downloads it); when that fails too (offline), one line says why and browser mode
// starts instead. `npm run web [case]` (--web): browser mode directly. No case = the
// shipped sample case. The renderer is (re)built first when renderer/dist is missing or stale.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
register();

const args = process.argv.slice(2);
const web = args.includes('--web');
const rest = args.filter((a) => a !== '--web');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'dist' || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function ensureRenderer() {
  const index = join(repo, 'renderer', 'dist', 'index.html');
  const config = join(repo, 'renderer', 'vite.config.ts');
  if (existsSync(index) && newest(join(repo, 'renderer')) <= statSync(index).mtimeMs) return;
  if (!existsSync(config)) {
    console.warn('quorum: renderer/vite.config.ts is missing; the viewer cannot be built yet.');
    return;
  }
  console.log('quorum: building the viewer (renderer/dist is missing or older than its sources)...');
  const r = spawnSync(
    process.execPath,
    [join(repo, 'node_modules/vite/bin/vite.js'), 'build', '--config', config],
    {
      cwd: repo,
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) {
    console.error('quorum: building the viewer failed (see above).');
    process.exit(r.status ?? 1);
  }
}

/** The desktop app, or why not (Electron's own installer is tried first: electron/locate.ts). */
async function startElectron() {
  const { decideDesktop } = await import('../electron/locate.ts');
  const decision = await decideDesktop();
  if (!decision.desktop) return decision.message;
  const { bundleElectron } = await import('../electron/bundle.ts');
  await bundleElectron();
  ensureRenderer();
  const child = spawn(decision.path, [join(repo, 'electron', 'dist', 'main.js'), ...rest], {
    stdio: 'inherit',
  });
  child.on('exit', (code) => process.exit(code ?? 0));
  return undefined;
}

if (!web) {
  const why = await startElectron();
  // Electron runs; this process just waits for it.
  if (why === undefined) await new Promise(() => {});
  console.log(why);
}
ensureRenderer();
const { runBrowserMode } = await import('../workers/src/host/main.ts');
await runBrowserMode(rest);

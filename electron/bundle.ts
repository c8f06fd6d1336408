import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO } from './locate.ts';

/**
 * Writes the main-process bootstrap (electron/dist/main.js, package.json's "main"), the engine's
 * utilityProcess bootstrap (electron/dist/engine.js) and bundles electron/preload.ts
 * (CommonJS, one self-contained file: a sandboxed preload can require nothing but 'electron').
 */
export async function bundleElectron(): Promise<void> {
  const out = join(REPO, 'electron', 'dist');
  mkdirSync(out, { recursive: true });
  // Main runs from TypeScript sources through tsx (the engine and loaders are TS too); only this
  // bootstrap is generated. Registering tsx must precede the import, hence a dynamic import.
  writeFileSync(
    join(out, 'main.js'),
    "import { register } from 'tsx/esm/api';\nregister();\nawait import('../main.ts');\n",
  );
  // The engine's entry in Electron's utilityProcess (electron/engine-process.ts): argv as
  // child_process.fork would give it, whatever Electron puts in a utility process's argv.
  writeFileSync(
    join(out, 'engine.js'),
    [
      "import { fileURLToPath } from 'node:url';",
      "import { register } from 'tsx/esm/api';",
      'register();',
      "const args = JSON.parse(process.env.QUORUM_ENGINE_ARGS ?? '[]');",
      "const entry = new URL('../../workers/src/engine/main.ts', import.meta.url);",
      'process.argv = [process.argv[0], fileURLToPath(entry), ...args];',
      'await import(entry.href);',
      '',
    ].join('\n'),
  );
  await build({
    entryPoints: [join(REPO, 'electron', 'preload.ts')],
    outfile: join(out, 'preload.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'chrome140',
    external: ['electron'],
    logLevel: 'warning',
  });
}

if (process.argv[1] && /bundle\.ts$/.test(process.argv[1])) await bundleElectron();

import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_MODEL } from '../../../core/src/manifest.ts';

/**
 * The app root: the nearest folder upwards holding Quorum's package.json. Found by walking up
 * rather than by a fixed number of '..' so the same code works from sources (tsx) and from the
 * Electron bundle in electron/dist/.
 */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && /"name":\s*"quorum"/.test(readFileSync(pkg, 'utf8'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('Quorum: cannot find the app folder (package.json named quorum)');
    dir = up;
  }
}

export const REPO_ROOT = findRoot();
export const SAMPLE_CASE = join(REPO_ROOT, 'build', 'sample-case', 'brats_2013_pat0003');
export const DEFAULT_MODEL_DIR = join(REPO_ROOT, 'models', DEFAULT_MODEL);

/** Imports a TypeScript source module of the app by its path from the root (tsx must be active). */
export function importSource<T>(relPath: string): Promise<T> {
  return import(/* @vite-ignore */ pathToFileURL(join(REPO_ROOT, relPath)).href) as Promise<T>;
}

/** Scratch folder for tests and uploads when no state dir is configured. */
export function scratchDir(prefix: string): string {
  const d = join(tmpdir(), `${prefix}-${randomUUID()}`);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, '.quorum'), '');
  return d;
}

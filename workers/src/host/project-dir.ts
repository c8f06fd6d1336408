import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where a dataset's project folder goes. */
export function projectDirFor(folder: string, stateDir: string): { dir: string; warnings: string[] } {
  const root = resolve(folder);
  const parent = dirname(root);
  const next = join(parent, `${basename(root)}.quorum`);
  if (parent !== root && (existsSync(next) ? writable(next) : writable(parent)))
    return { dir: next, warnings: [] };
  const key = createHash('sha256').update(root).digest('hex').slice(0, 16);
  const dir = join(stateDir, 'projects', `${basename(root)}-${key}`);
  return { dir, warnings: [`${parent} is not writable: the project is kept in ${dir}`] };
}

import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { UploadedFile } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';

/**
 * Writes dropped files into a new private folder under stateDir/uploads. Returns the folder, the
 * case input to open from it, and `drop`, which removes the folder and rethrows.
 */
export function saveUploads(
  stateDir: string,
  files: UploadedFile[],
): { dir: string; input: string; drop: (e: unknown) => never } {
  if (!files.length) throw new QuorumError('bad-argument', 'no files were dropped');
  const dir = join(stateDir, 'uploads', randomUUID());
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700); // only this user reads them (files 0600); removed when the case closes
  const drop = (e: unknown): never => {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  };
  for (const f of files) {
    // Only the base name: a dropped file must not write outside its upload folder.
    const name = basename(f.name.replace(/\\/g, '/'));
    if (!name || name.startsWith('.'))
      drop(new QuorumError('bad-argument', 'a dropped file has no usable name', f.name));
    writeFileSync(join(dir, name), new Uint8Array(f.bytes), { mode: 0o600, flag: 'wx' });
  }
  const input = files.length === 1 ? join(dir, basename(files[0].name)) : dir;
  return { dir, input, drop };
}

import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ModelManifest, networkFiles } from '../../core/src/manifest.ts';
import { readManifest } from '../../workers/src/engine/session.ts';
import { DEFAULT_MODEL_DIR } from '../../workers/src/host/paths.ts';

/**
 * A model folder at `dir`: the shipped model (its ONNX files symlinked, not copied: every network
 * of an ensemble) with its manifest changed by `edit`. Returns `dir`.
 */
export function modelWithManifest(dir: string, edit: (manifest: ModelManifest) => void): string {
  const manifest = readManifest(DEFAULT_MODEL_DIR);
  mkdirSync(dir, { recursive: true });
  for (const f of networkFiles(manifest)) symlinkSync(join(DEFAULT_MODEL_DIR, f), join(dir, f));
  edit(manifest);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

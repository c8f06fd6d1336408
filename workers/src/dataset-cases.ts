import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VOLUME_FILE } from '../../core/src/lists.ts';
import { caseChannelFiles, channelFile, fileChannels } from '../../core/src/node/channels.ts';

/**
 * The cases of a dataset folder: its subfolders (symlinks followed), sorted by name, hidden
 * ones and `exclude` (e.g. an output folder inside it) left out; and each 4-D NIfTI file in it
 * whose volumes are named sequences (a Decathlon imagesTr folder: one file per case), named
 * after the file without its extension; and each case of nnU-Net's per-channel files
 * (`<case>_0000.nii.gz`, … with named channels), named after the case.
 */
export function listDatasetCases(folder: string, exclude: string[] = []): { name: string; path: string }[] {
  const root = resolve(folder);
  const skip = new Set(exclude.map((p) => resolve(p)));
  const out: { name: string; path: string }[] = [];
  const cases = new Set<string>();
  for (const name of readdirSync(root).sort()) {
    if (name.startsWith('.')) continue;
    const path = join(root, name);
    if (skip.has(path)) continue;
    try {
      if (!statSync(path).isDirectory()) {
        const ch = channelFile(path);
        if (ch) {
          // nnU-Net's file per channel: the case once, by its first channel file (which opens them all)
          if (!cases.has(ch.caseId)) {
            cases.add(ch.caseId);
            if (caseChannelFiles(path).some((c) => c.sequence !== 'unknown'))
              out.push({ name: ch.caseId, path });
          }
        } else if (fileChannels(path)?.channels.some((c) => c.sequence !== 'unknown'))
          out.push({ name: name.replace(VOLUME_FILE, ''), path });
        continue;
      }
    } catch {
      // A dangling symlink is a broken case: list it so it is reported, not silently dropped.
      out.push({ name, path });
      continue;
    }
    out.push({ name, path });
  }
  return out;
}

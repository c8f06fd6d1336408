import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { niftiVolumeCount } from '../nifti/read.ts';
import { classifySeries } from '../sequence.ts';
import type { SequenceName } from '../volume.ts';

/**
 * Sequences stored as the volumes of one 4-D NIfTI file, as the Medical Segmentation Decathlon
 * (Task01_BrainTumour: imagesTr/BRATS_001.nii.gz holds FLAIR, T1w, T1gd and T2w) and datasets laid
 * out like it store them (nnU-Net v2's one file per channel is not read here). The file name cannot
 * say which volume is which, so the names come from the dataset's `dataset.json` ("modality" in the
 * Decathlon, or nnU-Net v2's "channel_names"), found beside the file or one folder up; a 4-volume
 * BRATS_<n> file without one is read in Task01's published order, and says so.
 */
export interface Channel {
  volume: number;
  /** The channel's name where it came from ("FLAIR", "t1gd"). */
  name: string;
  sequence: SequenceName;
  reason: string;
}

/** Task01_BrainTumour's "modality" block: the order of its 4-D files when no dataset.json came along. */
const DECATHLON_BRAIN = ['FLAIR', 'T1w', 't1gd', 'T2w'];
const DECATHLON_FILE = /^BRATS_\d+\.nii(\.gz)?$/i;

function namesFromDatasetJson(file: string, volumes: number): { names: string[]; from: string } | undefined {
  for (const dir of [dirname(file), dirname(dirname(file))]) {
    const path = join(dir, 'dataset.json');
    if (!existsSync(path)) continue;
    let json: { modality?: Record<string, string>; channel_names?: Record<string, string> };
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      continue; // not the dataset's description: names are looked for elsewhere
    }
    const block = json.modality ?? json.channel_names;
    if (!block || typeof block !== 'object') continue;
    const names = Array.from({ length: volumes }, (_, i) => block[String(i)]);
    if (names.every((n) => typeof n === 'string' && n.trim())) return { names, from: path };
  }
  return undefined;
}

/** The first 64 KiB of a file: a header, inflated or not, without reading a large image (a dataset listing). */
function head(file: string): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const buf = new Uint8Array(64 * 1024);
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * The channels of a multi-volume NIfTI file, or undefined for a 3-D file (or one that cannot be read
 * here: loading it later says what is wrong). `channels` is empty when nothing names the volumes.
 */
export function fileChannels(file: string): { volumes: number; channels: Channel[] } | undefined {
  if (!/\.(nii|nii\.gz|hdr|hdr\.gz)$/i.test(file)) return undefined;
  let volumes: number;
  try {
    volumes = niftiVolumeCount(head(file), file, /\.hdr(\.gz)?$/i.test(file));
  } catch {
    return undefined;
  }
  if (volumes <= 1) return undefined;
  const fromJson = namesFromDatasetJson(file, volumes);
  const decathlon = !fromJson && volumes === DECATHLON_BRAIN.length && DECATHLON_FILE.test(basename(file));
  const names = fromJson?.names ?? (decathlon ? DECATHLON_BRAIN : undefined);
  if (!names) return { volumes, channels: [] };
  const from = fromJson
    ? `named "%s" in ${fromJson.from}`
    : `"%s" in the Decathlon's Task01_BrainTumour order (FLAIR, T1w, t1gd, T2w; no dataset.json beside the file)`;
  return {
    volumes,
    channels: names.map((name, volume) => {
      const d = classifySeries({ seriesDescription: name });
      const what = `volume ${volume} of ${volumes}, ${from.replace('%s', name)}`;
      return {
        volume,
        name,
        sequence: d.role === 'sequence' ? d.sequence : 'unknown',
        reason:
          d.role === 'sequence'
            ? `${what}: ${d.reason.replace(/^SeriesDescription "[^"]*" \("[^"]*"\): /, '')}`
            : `${what}: not a sequence Quorum knows`,
      };
    }),
  };
}

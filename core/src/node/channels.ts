import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VOLUME_FILE } from '../lists.ts';
import { niftiVolumeCount } from '../nifti/read.ts';
import { classifySeries } from '../sequence.ts';
import type { SequenceName } from '../volume.ts';

/**
 * Sequences stored as the volumes of one 4-D NIfTI file, as the Medical Segmentation Decathlon
 * (Task01_BrainTumour: imagesTr/BRATS_001.nii.gz holds FLAIR, T1w, T1gd and T2w) and datasets laid
 * out like it store them, or as nnU-Net's one file per channel (imagesTr/BRATS_001_0000.nii.gz is
 * channel 0 of case BRATS_001; v1 and v2 alike). Neither the file name nor the header says which
 * channel is which, so the names come from the dataset's `dataset.json` ("modality" in the Decathlon
 * and nnU-Net v1, "channel_names" in v2), found beside the file or one folder up; a BRATS_<n> case
 * without one is read in Task01's published order, and says so.
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

type NameBlock = Record<string, unknown>;

interface DatasetNames {
  block: NameBlock;
  from: string;
}

/**
 * Parsed dataset.json files by path, kept while the file's size and time are unchanged: a listing of
 * an imagesTr folder asks once per channel file (thousands), and the answer is the same file's.
 */
const parsedJson = new Map<string, { stamp: string; names: DatasetNames | undefined }>();

/** The "modality" / "channel_names" block of one dataset.json, if it is one. */
function namesIn(path: string): DatasetNames | undefined {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st?.isFile()) return undefined;
  const stamp = `${st.size}:${st.mtimeMs}`;
  const known = parsedJson.get(path);
  if (known?.stamp === stamp) return known.names;
  let names: DatasetNames | undefined;
  try {
    const json: { modality?: NameBlock; channel_names?: NameBlock } = JSON.parse(readFileSync(path, 'utf8'));
    const block = json.modality ?? json.channel_names;
    if (block && typeof block === 'object') names = { block, from: path };
  } catch {
    // not the dataset's description: names are looked for elsewhere
  }
  parsedJson.set(path, { stamp, names });
  return names;
}

/** The channel names of the dataset.json beside `file` or one folder up, and where they came from. */
function datasetJsonNames(file: string): DatasetNames | undefined {
  for (const dir of [dirname(file), dirname(dirname(file))]) {
    const names = namesIn(join(dir, 'dataset.json'));
    if (names) return names;
  }
  return undefined;
}

const nameAt = (block: NameBlock, i: number): string | undefined => {
  const n = block[String(i)];
  return typeof n === 'string' && n.trim() ? n : undefined;
};

/** One channel named `name`, as a sequence if Quorum knows it; `what` says which channel of what. */
function channel(volume: number, name: string, what: string): Channel {
  const d = classifySeries({ seriesDescription: name });
  return {
    volume,
    name,
    sequence: d.role === 'sequence' ? d.sequence : 'unknown',
    reason:
      d.role === 'sequence'
        ? `${what}: ${d.reason.replace(/^SeriesDescription "[^"]*" \("[^"]*"\): /, '')}`
        : `${what}: not a sequence Quorum knows`,
  };
}

/** The first `bytes` of a file (64 KiB: a header, inflated or not) without reading a large image. */
export function head(file: string, bytes = 64 * 1024): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const buf = new Uint8Array(bytes);
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
  const json = datasetJsonNames(file);
  const fromJson = json && Array.from({ length: volumes }, (_, i) => nameAt(json.block, i));
  const named = fromJson?.every((n) => n) ? (fromJson as string[]) : undefined;
  const decathlon = !named && volumes === DECATHLON_BRAIN.length && DECATHLON_FILE.test(basename(file));
  const names = named ?? (decathlon ? DECATHLON_BRAIN : undefined);
  if (!names) return { volumes, channels: [] };
  const from = named
    ? `named "%s" in ${json?.from}`
    : `"%s" in the Decathlon's Task01_BrainTumour order (FLAIR, T1w, t1gd, T2w; no dataset.json beside the file)`;
  return {
    volumes,
    channels: names.map((name, volume) =>
      channel(volume, name, `volume ${volume} of ${volumes}, ${from.replace('%s', name)}`),
    ),
  };
}

/** nnU-Net's file per channel: `<case>_<4 digits>` and an image file's ending (nnU-Net reads .nrrd and .mha too). */
const CHANNEL_FILE = new RegExp(`^(.+)_(\\d{4})${VOLUME_FILE.source}`, 'i');
const DECATHLON_CASE = /^BRATS_\d+$/i;

/** One of nnU-Net's per-channel files: the case it belongs to and its channel (`volume` is 0). */
export interface ChannelFile extends Channel {
  file: string;
  caseId: string;
  index: number;
}

/**
 * What a `<case>_<NNNN>.nii.gz` file is, or undefined for any other name. Its sequence is
 * 'unknown' when nothing names the channel; the reason then says what would.
 */
export function channelFile(file: string): ChannelFile | undefined {
  const m = CHANNEL_FILE.exec(basename(file));
  if (!m) return undefined;
  const [, caseId, digits] = m;
  const index = Number(digits);
  const json = datasetJsonNames(file);
  const fromJson = json && nameAt(json.block, index);
  const what = `channel ${index} of case ${caseId} (nnU-Net's file per channel)`;
  let c: Channel;
  if (fromJson) c = channel(0, fromJson, `${what}, named "${fromJson}" in ${json?.from}`);
  else if (DECATHLON_CASE.test(caseId) && index < DECATHLON_BRAIN.length) {
    const name = DECATHLON_BRAIN[index];
    c = channel(
      0,
      name,
      `${what}, "${name}" in the Decathlon's Task01_BrainTumour order (FLAIR, T1w, t1gd, T2w; no dataset.json beside the file)`,
    );
  } else {
    c = {
      volume: 0,
      name: '',
      sequence: 'unknown',
      reason: `if it is ${what}, no dataset.json beside it or one folder up names channel ${index} ("channel_names" or "modality"): add one, or assign the file with --flair/--t1c`,
    };
  }
  return { ...c, file, caseId, index };
}

/** Every channel file of `file`'s case in its folder, by channel. */
export function caseChannelFiles(file: string): ChannelFile[] {
  const own = channelFile(file);
  if (!own) return [];
  const dir = dirname(file);
  return readdirSync(dir)
    .filter((f) => CHANNEL_FILE.exec(f)?.[1] === own.caseId)
    .map((f) => channelFile(join(dir, f)) as ChannelFile)
    .sort((a, b) => a.index - b.index);
}

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { QuorumError } from '../../../../core/src/errors.ts';
import { nonFiniteVoxels, nonFiniteWarning } from '../../../../core/src/finite.ts';
import { modelCard } from '../../../../core/src/manifest.ts';
import { lowConfidenceThreshold } from '../../../../core/src/metrics.ts';
import { channelFile, fileChannels } from '../../../../core/src/node/channels.ts';
import { loadVolume } from '../../../../core/src/node/load.ts';
import { readManifest } from '../../../../core/src/node/model-manifest.ts';
import { unusualWarnings } from '../../../../core/src/unusual.ts';
import type { Volume } from '../../../../core/src/volume.ts';
import { type CommandSpec, parseCommand } from '../args.ts';

export const summary =
  "describe a NIfTI file, DICOM folder or model folder as JSON (geometry, range, sequence, series; a model's card)";

export function describeVolume(v: Volume) {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const x of v.data) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const nonFinite = nonFiniteVoxels(v.data);
  return {
    file: v.source.path,
    format: v.source.format,
    dims: v.dims,
    spacing: v.spacing,
    origin: v.origin,
    direction: v.direction,
    coordinates: 'LPS',
    datatype: v.source.datatype,
    range: [min, max],
    sequence: v.source.sequence,
    sequenceReason: v.source.sequenceReason,
    description: v.source.description,
    // how the file was read (and how a case would read it), then what is unusual about the scan itself
    warnings: [
      ...(v.source.warnings ?? []),
      ...(nonFinite.bad
        ? [`${nonFiniteWarning(nonFinite, v.data.length)} when a case reads it as a sequence`]
        : []),
      ...unusualWarnings(v),
    ],
  };
}

/** A model folder (its manifest.json): what About the model shows in the app, for the command line. */
export function describeModel(dir: string) {
  const m = readManifest(dir);
  const card = modelCard(m.card);
  return {
    model: dir,
    name: m.name,
    version: m.version,
    description: m.description,
    channels: m.channels,
    lowConfidenceBelow: lowConfidenceThreshold(m),
    ...(card ? { card } : { card: null, note: 'no model card: no validation is described for this model' }),
  };
}

const SPEC: CommandSpec = {
  usage: `usage: quorum info <file-or-folder>
  A NIfTI file: its geometry (LPS), datatype, value range and sequence. A folder: every DICOM
  series in it, with its geometry and the sequence recognised (and why). A model folder (with a
  manifest.json): its name, version and model card (what it is for, what to expect, where it
  fails). As JSON on stdout.`,
  options: {},
  maxPositionals: 1,
};

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (args === 'help') {
    console.log(SPEC.usage);
    return 0;
  }
  const path = args.positional[0];
  if (!path) {
    console.error(SPEC.usage);
    return 2;
  }
  if (!existsSync(path)) throw new QuorumError('not-found', 'no such file or folder', path);
  const folder = statSync(path).isDirectory();
  if (folder && existsSync(join(path, 'manifest.json'))) {
    console.log(JSON.stringify(describeModel(path), null, 2));
    return 0;
  }
  if (folder) {
    const { scanDicom } = await import('../../../../core/src/node/dicom-fs.ts');
    const series = await scanDicom(path);
    console.log(JSON.stringify({ folder: path, series }, null, 2));
    return 0;
  }
  // a 4-D file of named sequences (a Decathlon layout): what `propose` will take from each volume
  const channels = fileChannels(path)?.channels;
  // one of nnU-Net's per-channel files: which channel of which case, and what propose takes it as
  const channel = channelFile(path);
  const described = describeVolume(await loadVolume(path));
  console.log(
    JSON.stringify(
      { ...described, ...(channels?.length ? { channels } : {}), ...(channel ? { channel } : {}) },
      null,
      2,
    ),
  );
  return 0;
}

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { QuorumError } from '../../../../core/src/errors.ts';
import type { Geometry } from '../../../../core/src/geometry.ts';
import {
  CROP_MODES,
  DEVICES,
  type Device,
  EDGE_MODES,
  ISLAND_MODES,
  PROPOSAL_BASE_FORMATS,
  REGISTRATIONS,
  type Registration,
  SAMPLERS,
  SEQUENCE_KINDS,
} from '../../../../core/src/lists.ts';
import { NOTHING_PROPOSED } from '../../../../core/src/metrics.ts';
import { openCase } from '../../../../core/src/node/case.ts';
import { type Prompts, parsePrompts } from '../../../../core/src/prompts.ts';
import { EngineClient } from '../../client.ts';
import { PROPOSAL_FORMATS } from '../../exports/index.ts';

/** What --export can add (mask and uncertainty are always written). */
const PROPOSE_EXTRA = PROPOSAL_FORMATS.filter((f) => !PROPOSAL_BASE_FORMATS.includes(f));

import { checkProposalOutputs } from '../../case-report.ts';
import { type ProposeSettings, proposalFormats, proposeCaseToDir } from '../../propose-case.ts';
import {
  type CommandSpec,
  choiceFlag,
  type Flags,
  intFlag,
  listFlag,
  numFlag,
  parseCommand,
  slicesFlag,
  strFlag,
} from '../args.ts';
import { caseLines, checkCase } from '../case-check.ts';
import { ProgressLines } from '../progress.ts';

export const summary =
  'propose a lesion mask + uncertainty map for a case (NIfTI folder, DICOM folder or --flair/--t1c/...)';

/** The options propose and propose-dataset share, as --help shows them (the values from core/src/lists.ts). */
export const PROPOSE_USAGE = `options: [--members N] [--steps N] [--sampler ${SAMPLERS.join('|')}] [--eta E] [--seed S]
    [--crop ${CROP_MODES.join('|')}] [--islands ${ISLAND_MODES.join('|')}] [--edge ${EDGE_MODES.join('|')}] [--slices a:b] [--device ${DEVICES.join('|')}] [--model DIR] [--register ${REGISTRATIONS.join('|')}]
    [--export F,...]  outputs besides mask, uncertainty and report.json, of: ${PROPOSE_EXTRA.join(', ')}
  Unset sampling options are the model's (its manifest.json, recommended).
  --islands drop (default): once every slice is proposed, small components the members disagree on
    are dropped as the model's manifest says (recommended.dropIslands; report.json lists them).
  --edge grow (default): then the edge is grown into adjacent voxels as bright on the FLAIR as the
    lesion, as the model's manifest says (recommended.growEdge; report.json's grownEdge); keep: not.`;

const USAGE = `usage: quorum propose <case> --out <dir> [--overwrite] [options]
       quorum propose ${SEQUENCE_KINDS.map((s) => `[--${s} FILE]`).join(' ')} --out <dir> [options]
  ${PROPOSE_USAGE}
  --prompts FILE  clicks that guide the proposal (a prompt model, manifest "prompts"):
    {"points": [{"voxel": [i, j, k], "positive": true}, {"lps": [x, y, z], "positive": false}]}
    voxel: indices in the reference sequence's file, i fastest; lps: millimetres. A click
    conditions its own slice and, through the lesion it lands in, the slices that lesion spans.
  <case> is a folder of NIfTI sequences (BraTS-style names), a DICOM study folder or one file;
  a 4-D file's volumes are its sequences where dataset.json names them (a Decathlon layout), and
  one of nnU-Net's <case>_0000.nii.gz files opens every channel file of its case, named likewise.
  Writes <dir>/mask.nii.gz, uncertainty.nii.gz, report.json and the --export outputs
  (probability.nii.gz, members/member-<i>.nii.gz, ...) on the reference (FLAIR) grid.
  Sequences on other grids are resampled onto it through world coordinates; --register rigid
  registers them (mutual information) for a patient who moved between series.
  Outputs never replace an existing file: with --overwrite, only files an earlier Quorum run wrote
  there (and nobody changed since) are replaced; any other file stops the run with its name.`;

/** Options shared with propose-dataset: the sampling settings and where the engine runs. */
export const PROPOSE_OPTIONS: CommandSpec['options'] = {
  out: { type: 'string', short: 'o' },
  members: { type: 'string' },
  steps: { type: 'string' },
  sampler: { type: 'string' },
  eta: { type: 'string' },
  seed: { type: 'string' },
  crop: { type: 'string' },
  islands: { type: 'string' },
  edge: { type: 'string' },
  slices: { type: 'string' },
  device: { type: 'string' },
  model: { type: 'string' },
  register: { type: 'string' },
  export: { type: 'string' },
};

const SPEC: CommandSpec = {
  usage: USAGE,
  options: {
    ...PROPOSE_OPTIONS,
    overwrite: { type: 'boolean' },
    prompts: { type: 'string' },
    ...Object.fromEntries(SEQUENCE_KINDS.map((s) => [s, { type: 'string' as const }])),
  },
  maxPositionals: 1,
};

export function progressLine(done: number, total: number, eta: number): string {
  const width = 30;
  const filled = Math.round((width * done) / Math.max(1, total));
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} slices  ETA ${Math.ceil(eta)} s `;
}

/** The sampling settings given on the command line (unset ones are the model's defaults). */
export function proposeSettings(flags: Flags): ProposeSettings {
  return {
    slices: slicesFlag(flags),
    members: intFlag(flags, 'members'),
    steps: intFlag(flags, 'steps'),
    sampler: choiceFlag(flags, 'sampler', SAMPLERS),
    eta: numFlag(flags, 'eta'),
    seed: intFlag(flags, 'seed', 0),
    crop: choiceFlag(flags, 'crop', CROP_MODES),
    islands: choiceFlag(flags, 'islands', ISLAND_MODES),
    edge: choiceFlag(flags, 'edge', EDGE_MODES),
    exports: listFlag(flags, 'export', PROPOSAL_FORMATS),
  };
}

/** Where the engine runs and how sequences reach the reference grid (propose and propose-dataset). */
export function engineFlags(flags: Flags): { device: Device; register: Registration; modelDir?: string } {
  const model = strFlag(flags, 'model');
  return {
    device: choiceFlag(flags, 'device', DEVICES, 'auto'),
    register: choiceFlag(flags, 'register', REGISTRATIONS, 'none'),
    modelDir: model ? resolve(model) : undefined,
  };
}

/** --prompts FILE, read and checked against the reference sequence's grid (core/src/prompts.ts). */
function readPrompts(file: string, reference: Geometry): Prompts {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new QuorumError('not-found', `cannot read the prompts file (${(e as Error).message})`, file);
  }
  return parsePrompts(text, file, reference);
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (args === 'help') {
    console.log(USAGE);
    return 0;
  }
  const { positional, flags } = args;
  const explicit = Object.fromEntries(
    SEQUENCE_KINDS.filter((s) => typeof flags[s] === 'string').map((s) => [s, resolve(flags[s] as string)]),
  );
  if (!positional[0] && !Object.keys(explicit).length) {
    console.error(USAGE);
    return 2;
  }
  const out = flags.out;
  if (typeof out !== 'string') throw new QuorumError('bad-argument', `--out <dir> is required\n${USAGE}`);
  // Every option value is checked before any file is read: a typo costs no loading time.
  // Unset sampling settings are resolved by the engine from the model's manifest (core/src/sampling.ts).
  const settings = proposeSettings(flags);
  const formats = proposalFormats(settings.exports);
  const { device, register, modelDir } = engineFlags(flags);
  // --register rigid runs elastix here, in the CLI's own process (core/src/node/register.ts): a
  // batch process with no UI to keep responsive. The app's host has the engine process do it.
  const kase = await openCase(Object.keys(explicit).length ? explicit : positional[0], { register });
  // Checked before the engine starts and before --out exists: a refused case costs no engine
  // start-up and leaves no empty folder behind (proposeCaseToDir creates it with the outputs).
  checkCase(kase, modelDir);
  const promptsFile = strFlag(flags, 'prompts');
  if (promptsFile) settings.prompts = readPrompts(resolve(promptsFile), Object.values(kase.sequences)[0]!);
  for (const line of caseLines(kase)) console.error(line);
  const outDir = resolve(out);
  const sources = Object.values(kase.sequences).map((v) => v!.source.path);
  settings.replace = flags.overwrite === true ? 'own' : 'never';
  checkProposalOutputs(outDir, formats, sources, settings.replace);

  const engine = await EngineClient.start({
    device,
    modelDir,
  });
  if (engine.info?.note) console.error(`device: ${engine.info.note}`);
  // Progress goes to stderr (stdout is the JSON result): a redrawn bar on a terminal, plain
  // lines every few seconds anywhere else (a log, a cluster job), never silence until the end.
  const tty = process.stderr.isTTY;
  const lines = new ProgressLines((l) => console.error(l));
  try {
    const run = proposeCaseToDir(engine, kase, outDir, settings, (e) => {
      if (e.type !== 'progress') return;
      if (tty) process.stderr.write(progressLine(e.done, e.total, e.etaSeconds));
      else lines.update(e, kase.id);
    });
    process.once('SIGINT', () => run.cancel());
    const report = await run.result;
    const n = report.slices.length;
    if (tty) process.stderr.write(`${progressLine(n, n, 0)}\n`);
    else
      console.error(
        `proposed ${n} slices in ${report.timings.engineSeconds.toFixed(1)} s (${report.timings.secondsPerSlice.toFixed(2)} s/slice) on ${report.device}`,
      );
    // a flagged proposal is said where the user looks, not only in report.json (README, Dataset mode)
    if (report.lowConfidence && report.confidence !== undefined)
      console.error(
        `low confidence (${report.confidence.toFixed(2)} < ${report.confidenceLowBelow}): review this case first` +
          (report.lesionVolumeMl === 0
            ? `; ${NOTHING_PROPOSED}`
            : '; the ensemble members disagree, so the proposal may have failed'),
      );
    console.log(
      JSON.stringify({
        out: outDir,
        lesionVolumeMl: report.lesionVolumeMl,
        slices: n,
        secondsPerSlice: report.timings.secondsPerSlice,
        confidence: report.confidence,
        lowConfidence: report.lowConfidence,
      }),
    );
    return 0;
  } finally {
    await engine.close();
  }
}

import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { QuorumError } from '../../../../core/src/errors.ts';
import { VOLUME_FILE } from '../../../../core/src/lists.ts';
import { assertCanWrite, removeOwnFile, writeOutputFile } from '../../../../core/src/node/atomic.ts';
import { openCase } from '../../../../core/src/node/case.ts';
import { channelFile } from '../../../../core/src/node/channels.ts';
import { type CaseReport, checkProposalOutputs, completeReport, REPORT_FILE } from '../../case-report.ts';
import { EngineClient } from '../../client.ts';
import { listDatasetCases } from '../../dataset-cases.ts';
import { caseLabelFile, labelsFolder, scoreAgainstLabel } from '../../host/dataset-labels.ts';
import { type ProposeSettings, proposalFormats, proposeCaseToDir } from '../../propose-case.ts';
import { type CommandSpec, parseCommand } from '../args.ts';
import { checkCase } from '../case-check.ts';
import { ProgressLines } from '../progress.ts';
import { engineFlags, PROPOSE_OPTIONS, PROPOSE_USAGE, proposeSettings } from './propose.ts';

export const summary =
  'propose every case (subfolder) of a dataset folder; resumable, shardable (--shard i/n), summary CSV';

const USAGE = `usage: quorum propose-dataset <folder> --out <folder> [--shard i/n] [options]
  ${PROPOSE_USAGE}
  One case per subfolder of <folder> (NIfTI or DICOM), per 4-D file of named sequences in it (a
  Decathlon imagesTr folder) and per case of nnU-Net's per-channel files (<case>_0000.nii.gz, …,
  named by dataset.json); outputs in <out>/<case>/ as with 'quorum propose'; cases already complete
  in <out> are skipped. Where the dataset has labels (a labels/ folder of <case>.nii.gz, labelsTr/
  beside imagesTr/, a *_seg file in a case folder), the summary adds each proposal's Dice with its
  label (any label value above 0 is lesion; whole-volume runs only, not with --slices). --shard i/n (0 <= i < n) takes every n-th case starting
  at the i-th, for one process per shard (SLURM array, Indexed Job).`;

const SPEC: CommandSpec = {
  usage: USAGE,
  options: { ...PROPOSE_OPTIONS, shard: { type: 'string' } },
  maxPositionals: 1,
};

export type CaseStatus = 'done' | 'skipped' | 'error';

export interface SummaryRow {
  case: string;
  status: CaseStatus;
  lesionVolumeMl?: number;
  uncertaintyMl?: number;
  /** Case confidence of report.json (0-1; absent in reports written before it existed). */
  confidence?: number;
  lowConfidence?: boolean;
  /** The proposal's RANO measurement (report.json bidimensional): longest and perpendicular diameters. */
  longestMm?: number;
  perpendicularMm?: number;
  /** Dice of the proposal with the dataset's existing label of the case (whole lesion: label > 0). */
  labelDice?: number;
  seconds: number;
  error?: string;
}

function csvField(v: string | number | undefined): string {
  if (v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(Math.round(v * 1e4) / 1e4) : '') : v;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function summaryCsv(rows: SummaryRow[]): string {
  const lines = [
    'case,status,lesion_ml,uncertainty_ml,confidence,low_confidence,longest_diameter_mm,perpendicular_diameter_mm,label_dice,seconds,error',
  ];
  for (const r of rows)
    lines.push(
      [
        r.case,
        r.status,
        r.lesionVolumeMl,
        r.uncertaintyMl,
        r.confidence,
        r.lowConfidence === undefined ? undefined : r.lowConfidence ? 'yes' : 'no',
        r.longestMm,
        r.perpendicularMm,
        r.labelDice,
        r.seconds,
        r.error?.replace(/\s+/g, ' '),
      ]
        .map(csvField)
        .join(','),
    );
  return `${lines.join('\n')}\n`;
}

/**
 * A dataset folder with no case in it: refused before any output folder exists, with what it holds
 * instead (NIfTI files of one case belong to `quorum propose`; unnamed channel files need dataset.json).
 */
function noCases(folder: string): QuorumError {
  const files = readdirSync(folder).filter((f) => VOLUME_FILE.test(f));
  const unnamed = files.map((f) => channelFile(join(folder, f))).find((c) => c && c.sequence === 'unknown');
  return new QuorumError(
    'not-found',
    'no case in this folder: a case is a subfolder (NIfTI or DICOM), a 4-D file whose volumes dataset.json ' +
      "names, or nnU-Net's <case>_0000.nii.gz, ... named by dataset.json" +
      (files.length
        ? `; it holds ${files.length} image file(s) of none of these kinds (propose one case with \`quorum propose\`)` +
          (unnamed ? `; ${basename(unnamed.file)}: ${unnamed.reason}` : '')
        : ''),
    folder,
  );
}

/** "i/n" → [i, n] with 0 <= i < n. */
export function parseShard(v: string | boolean | undefined): [number, number] {
  if (v === undefined) return [0, 1];
  const m = typeof v === 'string' ? /^(\d+)\/(\d+)$/.exec(v) : null;
  const i = Number(m?.[1]);
  const n = Number(m?.[2]);
  if (!m || n < 1 || i >= n)
    throw new QuorumError('bad-argument', `--shard must be i/n with 0 <= i < n, got ${String(v)}`);
  return [i, n];
}

/** One status line: the bar covers the whole shard, the case part moves with the engine's ETA. */
function bar(casesDone: number, cases: number, caseFraction: number, detail: string): string {
  const width = 24;
  const frac = (casesDone + Math.min(1, Math.max(0, caseFraction))) / Math.max(1, cases);
  const filled = Math.min(width, Math.round(width * frac));
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${casesDone}/${cases} cases  ${detail}\x1b[K`;
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (args === 'help') {
    console.log(USAGE);
    return 0;
  }
  const { positional, flags } = args;
  if (!positional[0]) {
    console.error(USAGE);
    return 2;
  }
  if (typeof flags.out !== 'string')
    throw new QuorumError('bad-argument', `--out <folder> is required\n${USAGE}`);
  const folder = resolve(positional[0]);
  const outRoot = resolve(flags.out);
  const [shard, shards] = parseShard(flags.shard);
  const settings: ProposeSettings = proposeSettings(flags);
  const formats = proposalFormats(settings.exports);
  const { device, register, modelDir } = engineFlags(flags);
  let all: { name: string; path: string }[];
  // A labels/ folder of existing labels (dataset mode, workers/src/host/dataset-labels.ts) is no case.
  const labelsDir = labelsFolder(resolve(folder));
  try {
    all = listDatasetCases(folder, [outRoot, ...(labelsDir ? [labelsDir] : [])]);
  } catch (e) {
    throw new QuorumError('not-found', `cannot list the dataset folder (${(e as Error).message})`, folder);
  }
  if (!all.length) throw noCases(folder);
  const mine = all.filter((_, i) => i % shards === shard);
  // One CSV per shard: shards run as separate processes and must never write the same file.
  const csvPath = join(outRoot, shards > 1 ? `summary-shard-${shard}-of-${shards}.csv` : 'summary.csv');
  assertCanWrite(csvPath, { replace: 'own' }); // a summary.csv Quorum did not write stops the run here
  const createdOut = !existsSync(outRoot);
  mkdirSync(outRoot, { recursive: true });
  const tty = !!process.stderr.isTTY;
  const log = (line: string) => (tty ? process.stderr.write(`\r\x1b[K${line}\n`) : console.error(line));
  log(
    `${mine.length} case(s)${shards > 1 ? ` in shard ${shard}/${shards} (${all.length} in the dataset)` : ''} → ${outRoot}`,
  );

  const rows: SummaryRow[] = [];
  /** The proposal's Dice with the case's existing label, if it has one; a label that cannot be read is said, not fatal. */
  const labelDice = async (c: { name: string; path: string }, outDir: string) => {
    const label = caseLabelFile(labelsDir, c.name, c.path);
    // a --slices run proposes part of the volume: its Dice with a whole label would mislead
    if (!label || settings.slices) return undefined;
    try {
      return (await scoreAgainstLabel(c.path, label, outDir)).dice;
    } catch (e) {
      log(`${c.name}: warning: the label ${label} was not compared (${(e as Error).message})`);
      return undefined;
    }
  };
  const save = () => writeOutputFile(csvPath, summaryCsv(rows), { replace: 'own' });
  let engine: EngineClient | undefined;
  let current: { cancel(): void } | undefined;
  let interrupted = false;
  const onSigint = () => {
    // First Ctrl+C: stop after cancelling the case in flight (it is redone next time). Second: now.
    if (interrupted) process.exit(130);
    interrupted = true;
    current?.cancel();
  };
  process.on('SIGINT', onSigint);
  try {
    for (const [idx, c] of mine.entries()) {
      if (interrupted) break;
      const outDir = join(outRoot, c.name);
      const t0 = performance.now();
      const done = completeReport(outDir, settings);
      if (done) {
        rows.push({
          case: c.name,
          status: 'skipped',
          lesionVolumeMl: done.lesionVolumeMl,
          uncertaintyMl: done.uncertaintyMm3 / 1000,
          confidence: done.confidence,
          lowConfidence: done.lowConfidence,
          longestMm: done.bidimensional?.longestMm,
          perpendicularMm: done.bidimensional?.perpendicularMm,
          labelDice: await labelDice(c, outDir),
          seconds: 0,
        });
        save();
        log(`${c.name}: already complete, skipped`);
        continue;
      }
      if (tty) process.stderr.write(bar(idx, mine.length, 0, `${c.name}: reading`));
      try {
        // A stale report of other settings must not count as complete if this run dies mid-case.
        // Only Quorum's own: a report.json someone else put there is refused below, not deleted.
        removeOwnFile(join(outDir, REPORT_FILE));
        const kase = await openCase(c.path, { register });
        for (const w of kase.warnings) log(`${c.name}: warning: ${w}`);
        // A case without the model's sequences is refused here, before the engine starts.
        checkCase(kase, modelDir);
        const sources = Object.values(kase.sequences).map((v) => v!.source.path);
        checkProposalOutputs(outDir, formats, sources, 'own');
        if (!engine) {
          engine = await EngineClient.start({ device, modelDir });
          if (engine.info?.note) log(`device: ${engine.info.note}`);
        }
        if (interrupted) {
          log(`${c.name}: interrupted`);
          break;
        }
        const tRun = performance.now();
        const lines = new ProgressLines(log);
        const run = proposeCaseToDir(engine, kase, outDir, settings, (e) => {
          if (e.type !== 'progress') return;
          if (!tty) return lines.update(e, `${c.name} (case ${idx + 1}/${mine.length})`);
          const elapsed = (performance.now() - tRun) / 1000;
          const detail = `${c.name}: slice ${e.done}/${e.total}, step ${e.step}/${e.steps}, ETA ${Math.ceil(e.etaSeconds)} s`;
          process.stderr.write(bar(idx, mine.length, elapsed / (elapsed + e.etaSeconds || 1), detail));
        });
        current = run;
        const report: CaseReport = await run.result;
        current = undefined;
        rows.push({
          case: c.name,
          status: 'done',
          lesionVolumeMl: report.lesionVolumeMl,
          uncertaintyMl: report.uncertaintyMm3 / 1000,
          confidence: report.confidence,
          lowConfidence: report.lowConfidence,
          longestMm: report.bidimensional?.longestMm,
          perpendicularMm: report.bidimensional?.perpendicularMm,
          seconds: (performance.now() - t0) / 1000,
        });
        const dice = await labelDice(c, outDir);
        if (dice !== undefined) rows[rows.length - 1].labelDice = dice;
        save(); // before the line: whoever sees the line finds the CSV up to date
        log(
          `${c.name}: ${report.lesionVolumeMl.toFixed(2)} mL, ${report.slices.length} slices in ${((performance.now() - t0) / 1000).toFixed(1)} s${dice !== undefined ? `, Dice with its label ${dice.toFixed(3)}` : ''}`,
        );
      } catch (e) {
        current = undefined;
        const err = e as Error & { code?: string };
        // The engine could not start (a --device that is not there, a broken model): no case can
        // run, so the whole run stops here with that message instead of failing every case.
        if (!engine && err.code === 'model') throw e;
        // Not a QuorumError: likely a bug on an odd input. Still only this case fails; keep the stack.
        if (!(e instanceof QuorumError)) log(`${c.name}: ${err.stack ?? err.message}`);
        if (err.code === 'cancelled' && interrupted) {
          log(`${c.name}: interrupted`);
          break;
        }
        rows.push({
          case: c.name,
          status: 'error',
          seconds: (performance.now() - t0) / 1000,
          error: err.message,
        });
        log(`${c.name}: error: ${err.message}`);
      }
      save();
    }
    save();
    if (tty)
      process.stderr.write(`${bar(rows.length, mine.length, 0, interrupted ? 'interrupted' : 'finished')}\n`);
    const n = (s: CaseStatus) => rows.filter((r) => r.status === s).length;
    const scored = rows.flatMap((r) => (r.labelDice === undefined ? [] : [r.labelDice]));
    console.log(
      JSON.stringify({
        out: outRoot,
        summary: csvPath,
        cases: mine.length,
        done: n('done'),
        skipped: n('skipped'),
        errors: n('error'),
        ...(scored.length
          ? { labelled: scored.length, meanLabelDice: scored.reduce((a, b) => a + b, 0) / scored.length }
          : {}),
        interrupted,
      }),
    );
    return interrupted ? 130 : n('error') ? 1 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    await engine?.close();
    // A run stopped before writing anything (the engine could not start) leaves no empty folder.
    if (createdOut && readdirSync(outRoot).length === 0) rmSync(outRoot, { recursive: true, force: true });
  }
}

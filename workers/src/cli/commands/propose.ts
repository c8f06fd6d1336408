import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { QuorumError } from '../../../../core/src/errors.ts';
import { assertNotSource } from '../../../../core/src/node/atomic.ts';
import { openCase } from '../../../../core/src/node/case.ts';
import { EngineClient } from '../../client.ts';
import { proposeCaseToDir } from '../../propose-case.ts';
import type { Device, SamplerName } from '../../protocol.ts';
import { intFlag, numFlag, parseArgs, slicesFlag } from '../args.ts';

export const summary =
  'propose a lesion mask + uncertainty map for a case (NIfTI folder, DICOM folder or --flair/--t1c/...)';

const USAGE = `usage: quorum propose <case> --out <dir> [--members 5] [--steps N] [--sampler ddim|ddpm] [--eta E]
                      [--device auto|cpu|webgpu|cuda|dml|coreml] [--seed S] [--slices a:b] [--model DIR]
       quorum propose --flair F --t1c F [--t1 F] [--t2 F] --out <dir> ...`;

export function progressLine(done: number, total: number, eta: number): string {
  const width = 30;
  const filled = Math.round((width * done) / Math.max(1, total));
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} slices  ETA ${Math.ceil(eta)} s `;
}

export async function run(argv: string[]): Promise<number> {
  const { positional, flags } = parseArgs(argv);
  if (flags.help || (!positional[0] && !flags.flair && !flags.t1c)) {
    console.error(USAGE);
    return 2;
  }
  const out = flags.out;
  if (typeof out !== 'string') throw new QuorumError('bad-argument', `--out <dir> is required\n${USAGE}`);
  const explicit = Object.fromEntries(
    ['flair', 't1c', 't1', 't2']
      .filter((s) => typeof flags[s] === 'string')
      .map((s) => [s, resolve(flags[s] as string)]),
  );
  const kase = await openCase(Object.keys(explicit).length ? explicit : positional[0]);
  for (const w of kase.warnings) console.error(`warning: ${w}`);
  const slices = slicesFlag(flags);
  const sampler = (flags.sampler ?? 'ddim') as SamplerName;
  if (sampler !== 'ddim' && sampler !== 'ddpm')
    throw new QuorumError('bad-argument', `--sampler must be ddim or ddpm, got ${sampler}`);

  const outDir = resolve(out);
  mkdirSync(outDir, { recursive: true });
  // Checked before the engine starts: never a minute of work only to refuse the write.
  const sources = Object.values(kase.sequences).map((v) => v!.source.path);
  for (const f of ['mask.nii.gz', 'uncertainty.nii.gz']) assertNotSource(join(outDir, f), sources);

  const engine = await EngineClient.start({
    device: (flags.device ?? 'auto') as Device,
    modelDir: typeof flags.model === 'string' ? resolve(flags.model) : undefined,
  });
  if (engine.info?.note) console.error(`device: ${engine.info.note}`);
  const tty = process.stderr.isTTY;
  try {
    const run = proposeCaseToDir(
      engine,
      kase,
      outDir,
      {
        slices,
        members: intFlag(flags, 'members'),
        steps: intFlag(flags, 'steps'),
        sampler,
        eta: numFlag(flags, 'eta'),
        seed: intFlag(flags, 'seed', 0),
      },
      (e) => {
        if (e.type === 'progress' && tty) process.stderr.write(progressLine(e.done, e.total, e.etaSeconds));
      },
    );
    process.once('SIGINT', () => run.cancel());
    const report = await run.result;
    const n = report.slices.length;
    if (tty) process.stderr.write(`${progressLine(n, n, 0)}\n`);
    else
      console.error(
        `proposed ${n} slices in ${report.timings.engineSeconds.toFixed(1)} s (${report.timings.secondsPerSlice.toFixed(2)} s/slice) on ${report.device}`,
      );
    console.log(
      JSON.stringify({
        out: outDir,
        lesionVolumeMl: report.lesionVolumeMl,
        slices: n,
        secondsPerSlice: report.timings.secondsPerSlice,
      }),
    );
    return 0;
  } finally {
    await engine.close();
  }
}

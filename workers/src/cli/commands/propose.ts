import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { QuorumError } from '../../../../core/src/errors.ts';
import { writeFileAtomic } from '../../../../core/src/node/atomic.ts';
import { openCase } from '../../../../core/src/node/case.ts';
import { writeNiftiFile } from '../../../../core/src/node/load.ts';
import type { Volume } from '../../../../core/src/volume.ts';
import { EngineClient } from '../../client.ts';
import type { ChannelVolume, Device, SamplerName, SliceResult } from '../../protocol.ts';
import { intFlag, numFlag, parseArgs } from '../args.ts';

export const summary =
  'propose a lesion mask + uncertainty map for a case (NIfTI folder, DICOM folder or --flair/--t1c/...)';

const USAGE = `usage: quorum propose <case> --out <dir> [--members 5] [--steps N] [--sampler ddim|ddpm] [--eta E]
                      [--device auto|cpu|webgpu|cuda|dml|coreml] [--seed S] [--slices a:b] [--model DIR]
       quorum propose --flair F --t1c F [--t1 F] [--t2 F] --out <dir> ...`;

function toChannel(v: Volume): ChannelVolume {
  return {
    dims: v.dims,
    spacing: v.spacing,
    origin: v.origin,
    direction: v.direction,
    data: v.data instanceof Float32Array ? v.data : Float32Array.from(v.data),
  };
}

function progressLine(done: number, total: number, eta: number): string {
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
  let slices: [number, number] | undefined;
  if (typeof flags.slices === 'string') {
    const m = /^(\d+):(\d+)$/.exec(flags.slices);
    if (!m)
      throw new QuorumError(
        'bad-argument',
        `--slices must be a:b (inclusive axial slice range), got ${flags.slices}`,
      );
    slices = [Number(m[1]), Number(m[2])];
  }
  const sampler = (flags.sampler ?? 'ddim') as SamplerName;
  if (sampler !== 'ddim' && sampler !== 'ddpm')
    throw new QuorumError('bad-argument', `--sampler must be ddim or ddpm, got ${sampler}`);

  const outDir = resolve(out);
  mkdirSync(outDir, { recursive: true });
  const sources = Object.values(kase.sequences).map((v) => v!.source.path);
  const reference = Object.values(kase.sequences)[0]!;

  const engine = await EngineClient.start({
    device: (flags.device ?? 'auto') as Device,
    modelDir: typeof flags.model === 'string' ? resolve(flags.model) : undefined,
  });
  if (engine.info?.note) console.error(`device: ${engine.info.note}`);
  const tty = process.stderr.isTTY;
  const results: SliceResult[] = [];
  const t0 = performance.now();
  try {
    const run = engine.propose(
      {
        caseName: kase.root,
        volumes: Object.fromEntries(Object.entries(kase.sequences).map(([k, v]) => [k, toChannel(v!)])),
        slices,
        members: intFlag(flags, 'members'),
        steps: intFlag(flags, 'steps'),
        sampler,
        eta: numFlag(flags, 'eta'),
        seed: intFlag(flags, 'seed', 0),
      },
      (e) => {
        if (e.type === 'slice') results.push(e.result);
        else if (e.type === 'progress' && tty)
          process.stderr.write(progressLine(e.done, e.total, e.etaSeconds));
      },
    );
    process.once('SIGINT', () => run.cancel());
    const s = await run.result;
    if (tty) process.stderr.write(`${progressLine(s.slices.length, s.slices.length, 0)}\n`);
    else
      console.error(
        `proposed ${s.slices.length} slices in ${s.seconds.total.toFixed(1)} s (${s.seconds.perSlice.toFixed(2)} s/slice) on ${s.device}`,
      );

    // assemble volumes on the input grid
    const [nx, ny, nz] = reference.dims;
    const plane = nx * ny;
    const mask = new Uint8Array(plane * nz);
    const std = new Float32Array(plane * nz);
    for (const r of results) {
      mask.set(r.mask, r.k * plane);
      std.set(r.std, r.k * plane);
    }
    const geometry = {
      dims: reference.dims,
      spacing: reference.spacing,
      origin: reference.origin,
      direction: reference.direction,
      source: reference.source,
    };
    writeNiftiFile(
      join(outDir, 'mask.nii.gz'),
      { ...geometry, data: mask },
      { datatype: 'uint8', description: 'Quorum proposal', sources },
    );
    writeNiftiFile(
      join(outDir, 'uncertainty.nii.gz'),
      { ...geometry, data: std },
      { datatype: 'float32', description: 'Quorum ensemble std', sources },
    );
    const voxelMl = (reference.spacing[0] * reference.spacing[1] * reference.spacing[2]) / 1000;
    const lesionVoxels = mask.reduce((a, b) => a + b, 0);
    const report = {
      case: kase.root,
      inputs: Object.fromEntries(Object.entries(kase.sequences).map(([k, v]) => [k, v!.source.path])),
      model: s.model,
      settings: {
        members: s.members,
        steps: s.steps,
        sampler: s.sampler,
        eta: s.eta,
        seed: s.seed,
        slices: slices ?? 'all with brain',
      },
      device: s.device,
      deviceNote: s.deviceNote,
      timings: {
        totalSeconds: (performance.now() - t0) / 1000,
        engineSeconds: s.seconds.total,
        modelSeconds: s.seconds.model,
        secondsPerSlice: s.seconds.perSlice,
      },
      lesionVolumeMl: lesionVoxels * voxelMl,
      uncertaintyMm3: results.reduce((a, r) => a + r.uncertainty, 0) * reference.spacing[2],
      slices: results.map((r) => ({ k: r.k, lesionAreaMm2: r.lesionAreaMm2, uncertainty: r.uncertainty })),
      skippedSlices: s.skipped,
      outputs: ['mask.nii.gz', 'uncertainty.nii.gz'],
    };
    writeFileAtomic(join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    console.log(
      JSON.stringify({
        out: outDir,
        lesionVolumeMl: report.lesionVolumeMl,
        slices: results.length,
        secondsPerSlice: s.seconds.perSlice,
      }),
    );
    return 0;
  } finally {
    await engine.close();
  }
}

import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { dice } from '../../core/src/metrics.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import type { Volume } from '../../core/src/volume.ts';
import { REPO } from './paths.ts';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * `quorum <args>` as a user runs it (node bin/quorum.mjs, from the checkout), with pipes: stdout
 * and stderr are not terminals, as in a batch job. Never throws on a non-zero exit.
 */
export function quorumWith(
  opts: { env?: Record<string, string>; timeoutMs?: number },
  ...args: string[]
): CliRun {
  const t0 = performance.now();
  const r = spawnSync('node', [join(REPO, 'bin', 'quorum.mjs'), ...args], {
    encoding: 'utf8',
    cwd: REPO,
    timeout: opts.timeoutMs,
    env: opts.env ? { ...process.env, ...opts.env } : undefined,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - t0) / 1000 };
}

/** `quorum <args>` with a 60 s limit (quick commands: info, --help, refusals). */
export const quorum = (...args: string[]): CliRun => quorumWith({ timeoutMs: 60_000 }, ...args);

/**
 * `quorum <args>` without blocking the test's event loop (the test may serve files meanwhile, and
 * a long proposal does not freeze vitest's timers). Exit code 1 when the process was killed.
 */
export function quorumAsync(...args: string[]): Promise<CliRun> {
  const t0 = performance.now();
  return new Promise((ok) => {
    execFile('node', [join(REPO, 'bin', 'quorum.mjs'), ...args], { cwd: REPO }, (err, stdout, stderr) =>
      ok({
        code: err ? ((err as { code?: number }).code ?? 1) : 0,
        stdout,
        stderr,
        seconds: (performance.now() - t0) / 1000,
      }),
    );
  });
}

/**
 * The same images stored two ways (say DICOM and NIfTI) must give the same proposal: `quorum
 * propose` on each with the same quick settings, into `<dir>/out-<name>`. Returns both masks, the
 * lesion's voxel count in the second and the Dice between them; the caller asserts.
 */
export async function proposeBoth(
  dir: string,
  cases: Record<string, string>,
  settings: string[],
  extra: Record<string, string[]> = {},
): Promise<{ masks: Volume[]; lesion: number; dice: number }> {
  const masks: Volume[] = [];
  for (const [name, path] of Object.entries(cases)) {
    const out = join(dir, `out-${name}`);
    const r = await quorumAsync('propose', path, '--out', out, ...(extra[name] ?? []), ...settings);
    if (r.code !== 0) throw new Error(`quorum propose ${path} exited ${r.code}: ${r.stderr}`);
    masks.push(await loadVolume(join(out, 'mask.nii.gz')));
  }
  if (masks.length !== 2) throw new Error('proposeBoth compares two cases');
  let lesion = 0;
  for (const x of masks[1].data) lesion += x ? 1 : 0;
  return { masks, lesion, dice: dice(masks[0].data, masks[1].data) };
}

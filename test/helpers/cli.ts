import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
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

import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cookieName } from '../../workers/src/host/web-auth.ts';
import { REPO } from './paths.ts';

/**
 * The browser-mode host as `npm run web` starts it (workers/src/host/main.ts), in its own process
 * so that tests can kill it with SIGKILL. Resolves once it listens, with the URL it printed (with
 * its per-launch secret, as a user opens it), its port, and the secret as a Cookie header value.
 */
export async function spawnHost(
  stateDir: string,
): Promise<{ proc: ChildProcess; url: string; port: number; cookie: string }> {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(REPO, 'workers', 'src', 'host', 'main.ts'),
      '--port',
      '0',
      '--state-dir',
      stateDir,
    ],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const url = await new Promise<string>((ok, fail) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /open (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+) /.exec(out);
      if (m) ok(m[1]);
    });
    proc.stderr!.on('data', (d) => {
      out += d;
    });
    proc.on('exit', (code) => fail(new Error(`host exited (${code}): ${out}`)));
  });
  const u = new URL(url);
  return {
    proc,
    url,
    port: Number(u.port),
    cookie: `${cookieName(Number(u.port))}=${u.searchParams.get('token')}`,
  };
}

/** Child processes of a pid (Linux /proc), with their command lines. */
export function children(pid: number): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid)
        out.push({ pid: Number(d), cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch {}
  }
  return out;
}

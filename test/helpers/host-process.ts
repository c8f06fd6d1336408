import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './paths.ts';

/**
 * The browser-mode host as `npm run web` starts it (workers/src/host/main.ts), in its own process
 * so that tests can kill it with SIGKILL. Resolves once it listens, with its URL and port.
 */
export async function spawnHost(
  stateDir: string,
): Promise<{ proc: ChildProcess; url: string; port: number }> {
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
      const m = /browser mode on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) ok(m[1]);
    });
    proc.stderr!.on('data', (d) => {
      out += d;
    });
    proc.on('exit', (code) => fail(new Error(`host exited (${code}): ${out}`)));
  });
  return { proc, url, port: Number(new URL(url).port) };
}

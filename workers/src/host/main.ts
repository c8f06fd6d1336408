import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { SAMPLE_CASE } from './service.ts';
import { startWebHost } from './web.ts';
import { isLoopback } from './web-auth.ts';

/**
 * Browser mode entry: `node --import tsx workers/src/host/main.ts [case path] [--port N]
 * [--state-dir DIR] [--bind ADDR]`. Serves renderer/dist and the API on 127.0.0.1 (or ADDR, also
 * QUORUM_BIND, with a warning), every request gated by a per-launch secret carried once by the
 * printed URL and exchanged for a cookie (web-auth.ts); the renderer opens
 * AppInfo.initialCase. The state folder (journals, recent list, uploads; default ~/.quorum) can
 * also be set with QUORUM_STATE_DIR.
 */
export async function runBrowserMode(argv: string[]): Promise<void> {
  let port = Number(process.env.QUORUM_PORT ?? 5817);
  let stateDir = process.env.QUORUM_STATE_DIR || undefined;
  let bind = process.env.QUORUM_BIND || '127.0.0.1';
  let input: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') port = Number(argv[++i]);
    else if (argv[i] === '--state-dir') stateDir = resolve(argv[++i]);
    else if (argv[i] === '--bind') bind = argv[++i];
    else if (!argv[i].startsWith('--')) input = resolve(argv[i]);
  }
  if (input && !existsSync(input)) {
    console.error(`quorum: ${input}: no such file or folder`);
    process.exit(1);
  }
  const initialCase = input ?? (existsSync(SAMPLE_CASE) ? SAMPLE_CASE : undefined);
  const host = await startWebHost({ port, bind, initialCase, stateDir, log: (l) => console.log(l) }).catch(
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') {
        console.error(`quorum: port ${port} is in use; pass --port N (or QUORUM_PORT=0 for any free port)`);
        process.exit(1);
      }
      throw e;
    },
  );
  host.service.warmEngine();
  console.log(`Quorum is running in browser mode: open ${host.launchUrl} in Chrome, Edge or Firefox.`);
  console.log('That link carries a secret for this launch only: without it the host refuses every request.');
  console.log(initialCase ? `Case: ${initialCase}` : 'No case given and no sample case installed.');
  console.log(
    isLoopback(bind)
      ? 'Offline: the host listens on 127.0.0.1 only. Ctrl+C to stop.'
      : `The host listens on ${bind}, not only on this machine. Ctrl+C to stop.`,
  );
  const stop = async () => {
    await host.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename ?? '')) {
  await runBrowserMode(process.argv.slice(2));
}

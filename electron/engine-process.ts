import { join } from 'node:path';
import { utilityProcess } from 'electron';
import type { RpcMessage } from '../core/src/rpc/channel.ts';
import type { EngineProcess, EngineSpawner } from '../workers/src/engine-process.ts';
import { REPO_ROOT } from '../workers/src/host/service.ts';

/** Written by electron/bundle.ts: registers tsx, sets argv from QUORUM_ENGINE_ARGS, imports the engine. */
export const ENGINE_BOOTSTRAP = join(REPO_ROOT, 'electron', 'dist', 'engine.js');

/**
 * The engine in Electron's utilityProcess: a Node process started by Electron itself, so the app
 * needs no RunAsNode (a fuse that is off in the installers). The engine talks over
 * process.parentPort (workers/src/engine/transport.ts); `script` is implied by the bootstrap.
 */
export const utilityEngine: EngineSpawner = (_script, args): EngineProcess => {
  const child = utilityProcess.fork(ENGINE_BOOTSTRAP, [], {
    serviceName: 'Quorum engine',
    stdio: ['ignore', 'inherit', 'pipe'],
    env: { ...process.env, QUORUM_ENGINE_ARGS: JSON.stringify(args) },
  });
  let gone = false;
  child.once('exit', () => {
    gone = true;
  });
  return {
    get pid() {
      return child.pid;
    },
    stderr: child.stderr,
    send: (m: RpcMessage) => {
      if (!gone) child.postMessage(m);
    },
    onMessage: (listener) => void child.on('message', (m) => listener(m as RpcMessage)),
    // utilityProcess reports an exit code only (a crash or kill reads as non-zero).
    onExit: (listener) => void child.once('exit', (code) => listener(code, null)),
    stop: () => void (gone || child.kill()),
    kill: () => void (gone || child.kill()),
  };
};

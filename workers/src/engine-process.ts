import { type ChildProcess, fork } from 'node:child_process';
import type { RpcMessage } from '../../core/src/rpc/channel.ts';

/**
 * The engine process as EngineClient (client.ts) sees it, whatever started it: Node's
 * child_process.fork (CLI, browser mode, tests: forkEngine below) or Electron's utilityProcess
 * (the desktop app: electron/engine-process.ts, which needs no RunAsNode). Messages are
 * structured clones either way, so typed arrays travel as binary.
 */
export interface EngineProcess {
  readonly pid: number | undefined;
  /** The engine's stderr (its last lines say why it stopped), when piped. */
  readonly stderr: NodeJS.ReadableStream | null;
  send(m: RpcMessage): void;
  onMessage(listener: (m: RpcMessage) => void): void;
  /** Once, when the process has gone; signal is null where the runtime does not report one. */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  /** Asks it to stop (closes its link to us: the engine exits by itself). */
  stop(): void;
  /** Ends it now. */
  kill(): void;
}

/** Starts `script` (the engine's main.ts) with `args`. */
export type EngineSpawner = (script: string, args: string[]) => EngineProcess;

export const forkEngine: EngineSpawner = (script, args) =>
  childEngine(
    fork(script, args, {
      serialization: 'advanced',
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    }),
  );

/** A forked engine (stdio with 'ipc', structured-clone serialisation) as an EngineProcess. */
export function childEngine(child: ChildProcess): EngineProcess {
  // An IPC send/disconnect racing the engine's exit surfaces as an 'error' event; the exit
  // listener reports the stop, so this only keeps it from being an unhandled error.
  child.on('error', () => {});
  return {
    get pid() {
      return child.pid;
    },
    stderr: child.stderr,
    send: (m) => {
      if (child.connected) child.send(m);
    },
    onMessage: (listener) => void child.on('message', (m) => listener(m as RpcMessage)),
    onExit: (listener) => void child.once('exit', listener),
    stop: () => {
      if (child.connected) child.disconnect();
    },
    kill: () => void child.kill('SIGKILL'),
  };
}

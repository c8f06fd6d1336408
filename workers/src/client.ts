import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QuorumError } from '../../core/src/errors.ts';
import { DEFAULT_MODEL } from '../../core/src/manifest.ts';
import type { Device, EngineEvent, HostToEngine, ProposeRequest, ProposeSummary } from './protocol.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_MODEL_DIR = resolve(here, '..', '..', 'models', DEFAULT_MODEL);

export interface EngineOptions {
  device?: Device;
  modelDir?: string;
}

export type EngineListener = (e: EngineEvent) => void;

interface Pending {
  onEvent: EngineListener;
  resolve: (s: ProposeSummary) => void;
  reject: (e: Error) => void;
}

/**
 * The host side of the engine process. Runs are queued in the engine; results stream through
 * `onEvent`. If the engine dies, pending runs reject with 'worker-crashed' and the next
 * request starts a fresh engine: a crash loses only the run in flight.
 */
export class EngineClient {
  private child?: ChildProcess;
  private ready?: Promise<Extract<EngineEvent, { type: 'ready' }>>;
  private pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  info?: Extract<EngineEvent, { type: 'ready' }>;

  private constructor(private readonly opts: EngineOptions) {}

  static async start(opts: EngineOptions = {}): Promise<EngineClient> {
    const c = new EngineClient(opts);
    await c.ensure();
    return c;
  }

  /** The engine's process id (tests kill it to prove crash recovery). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private ensure(): Promise<Extract<EngineEvent, { type: 'ready' }>> {
    if (this.closed) return Promise.reject(new QuorumError('worker-crashed', 'the engine client is closed'));
    if (this.child && this.ready) return this.ready;
    const child = fork(
      join(here, 'engine', 'main.ts'),
      [this.opts.modelDir ?? DEFAULT_MODEL_DIR, this.opts.device ?? 'auto'],
      {
        serialization: 'advanced',
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      },
    );
    this.child = child;
    // An IPC send/disconnect racing the engine's exit surfaces as an 'error' event; the 'exit'
    // handler below reports the stop, so this only keeps it from being an unhandled error.
    child.on('error', () => {});
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    this.ready = new Promise((resolveReady, rejectReady) => {
      child.on('message', (e: EngineEvent) => {
        if (e.type === 'ready') {
          this.info = e;
          resolveReady(e);
          return;
        }
        const p = this.pending.get(e.id);
        if (!p) return;
        p.onEvent(e);
        if (e.type === 'done') {
          this.pending.delete(e.id);
          p.resolve(e.summary);
        } else if (e.type === 'cancelled') {
          this.pending.delete(e.id);
          p.reject(new QuorumError('cancelled', 'cancelled'));
        } else if (e.type === 'error') {
          this.pending.delete(e.id);
          p.reject(new QuorumError(e.code, e.message));
        }
      });
      child.on('exit', (code, signal) => {
        if (this.child === child) {
          this.child = undefined;
          this.ready = undefined;
        }
        // Killed by a signal: its stderr (e.g. onnxruntime noting a GPU provider it could not load)
        // is not the cause. Exited by itself: the last lines of stderr say why.
        const clean = stderr.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), ''); // ANSI colours
        const tail = signal ? '' : clean.trim().split('\n').slice(-3).join(' | ');
        const why = `the engine process stopped (${signal ?? `exit ${code}`})${tail ? `: ${tail}` : ''}`;
        // The engine could not start (model unreadable, a named --device unavailable): its own
        // message is the whole story, not a crash.
        const fatal = signal ? undefined : /^quorum engine: (.+)$/m.exec(clean)?.[1];
        rejectReady(fatal ? new QuorumError('model', fatal) : new QuorumError('worker-crashed', why));
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          p.reject(
            new QuorumError(
              'worker-crashed',
              `${why}; this run was lost, the next one starts a fresh engine`,
            ),
          );
        }
      });
    });
    return this.ready;
  }

  propose(
    request: ProposeRequest,
    onEvent: EngineListener = () => {},
  ): { id: number; result: Promise<ProposeSummary>; cancel(): void } {
    const id = this.nextId++;
    const result = new Promise<ProposeSummary>((resolveRun, rejectRun) => {
      this.ensure().then(() => {
        this.pending.set(id, { onEvent, resolve: resolveRun, reject: rejectRun });
        this.send({ type: 'propose', id, request });
      }, rejectRun);
    });
    return { id, result, cancel: () => this.send({ type: 'cancel', id }) };
  }

  private send(msg: HostToEngine) {
    if (this.child?.connected) this.child.send(msg);
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    await new Promise<void>((r) => {
      child.once('exit', () => r());
      if (child.connected) child.disconnect();
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    });
  }
}

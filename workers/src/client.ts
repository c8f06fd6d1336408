import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QuorumError, type QuorumErrorCode } from '../../core/src/errors.ts';
import { DEFAULT_MODEL } from '../../core/src/manifest.ts';
import { RpcClient, type StreamCall } from '../../core/src/rpc/channel.ts';
import { type EngineProcess, type EngineSpawner, forkEngine } from './engine-process.ts';
import {
  type CaseFileRef,
  type CasePlan,
  type Device,
  ENGINE_METHODS,
  type EngineEvent,
  type EngineInfo,
  type EngineStats,
  type ProposeRequest,
  type ProposeSummary,
  type RegisterRequest,
  type RegisterResult,
} from './protocol.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_MODEL_DIR = resolve(here, '..', '..', 'models', DEFAULT_MODEL);

export interface EngineOptions {
  device?: Device;
  modelDir?: string;
  /** How the engine process is started; default child_process.fork (the desktop app: utilityProcess). */
  spawn?: EngineSpawner;
}

export type EngineListener = (e: EngineEvent) => void;

/**
 * The host side of the engine process: an RPC client (core/src/rpc) on its link to the engine
 * (Node IPC, or Electron's utilityProcess: ./engine-process.ts).
 * Runs are queued in the engine; results stream through `onEvent`. If the engine dies, pending
 * runs reject with 'worker-crashed' and the next request starts a fresh engine: a crash loses
 * only the run in flight.
 */
export class EngineClient {
  private child?: EngineProcess;
  private rpc?: RpcClient;
  private ready?: Promise<EngineInfo>;
  /** Why the last engine stopped (its open runs end with 'disconnected' and reject with this). */
  private stopped?: QuorumError;
  private closed = false;
  info?: EngineInfo;

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

  private ensure(): Promise<EngineInfo> {
    if (this.closed) return Promise.reject(new QuorumError('worker-crashed', 'the engine client is closed'));
    if (this.child && this.ready) return this.ready;
    const child = (this.opts.spawn ?? forkEngine)(join(here, 'engine', 'main.ts'), [
      this.opts.modelDir ?? DEFAULT_MODEL_DIR,
      this.opts.device ?? 'auto',
    ]);
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    const closeListeners: (() => void)[] = [];
    const rpc = new RpcClient({
      send: (m) => child.send(m),
      onMessage: (listener) => child.onMessage(listener),
      // On exit, not on disconnect: the exit status and stderr say why it stopped.
      onClose: (listener) => void closeListeners.push(listener),
    });
    this.rpc = rpc;
    let startError: QuorumError | undefined;
    child.onExit((code, signal) => {
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
      this.stopped = fatal
        ? new QuorumError('model', fatal)
        : new QuorumError('worker-crashed', `${why}; this run was lost, the next one starts a fresh engine`);
      startError = fatal ? this.stopped : new QuorumError('worker-crashed', why);
      for (const l of closeListeners) l();
    });
    this.ready = rpc.call<EngineInfo>(ENGINE_METHODS.info, []).then(
      (info) => {
        this.info = info;
        return info;
      },
      (e) => {
        throw startError ?? e;
      },
    );
    return this.ready;
  }

  propose(
    request: ProposeRequest,
    onEvent: EngineListener = () => {},
  ): { id: number; result: Promise<ProposeSummary>; cancel(): void } {
    const id = this.nextRun++;
    let stream: StreamCall<unknown> | undefined;
    let cancelled = false;
    const result = new Promise<ProposeSummary>((resolveRun, rejectRun) => {
      this.ensure().then(() => {
        const rpc = this.rpc as RpcClient;
        stream = rpc.stream(ENGINE_METHODS.propose, [request], (e: EngineEvent) => {
          if (e.type === 'disconnected') {
            rejectRun(this.stopped ?? new QuorumError('worker-crashed', e.message));
            return;
          }
          onEvent(e);
          if (e.type === 'done') resolveRun(e.summary);
          else if (e.type === 'cancelled') rejectRun(new QuorumError('cancelled', 'cancelled'));
          else if (e.type === 'error') rejectRun(new QuorumError(e.code as QuorumErrorCode, e.message));
        });
        stream.result.catch(rejectRun);
        if (cancelled) stream.cancel();
      }, rejectRun);
    });
    return {
      id,
      result,
      cancel: () => {
        cancelled = true;
        stream?.cancel();
      },
    };
  }

  /** Reads a host case file into the engine's cache; what the engine would propose on it. */
  prepare(ref: CaseFileRef, caseName: string): Promise<CasePlan> {
    return this.call<CasePlan>(ENGINE_METHODS.prepare, [ref, caseName]);
  }

  /**
   * Rigid registration (elastix) in the engine process; see RegisterRequest. One elastix call is
   * one WebAssembly call that nothing interrupts, so `cancel` ends the engine process (the next
   * request starts a fresh one) and the result rejects with 'cancelled'. The host's scheduler runs
   * it in its own turn, so no proposal batch is in the engine then.
   */
  register(req: RegisterRequest): { result: Promise<RegisterResult>; cancel(): void } {
    let cancelled = false;
    let reject: (e: unknown) => void = () => {};
    const stopped = new Promise<never>((_, r) => {
      reject = r;
    });
    const result = Promise.race([this.call<RegisterResult>(ENGINE_METHODS.register, [req]), stopped]).catch(
      (e: unknown) => {
        throw cancelled ? new QuorumError('cancelled', 'cancelled') : e;
      },
    );
    return {
      result,
      cancel: () => {
        if (cancelled) return;
        cancelled = true;
        this.restart();
        reject(new QuorumError('cancelled', 'cancelled'));
      },
    };
  }

  /**
   * Ends the engine process now (what it was doing is lost; open calls reject); the next request
   * starts a fresh one, as after a crash.
   */
  restart(): void {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    this.ready = undefined;
    this.restarted.add(child);
    child.kill();
  }

  /** The engine process's memory and cache (diagnostics, the bench). */
  stats(): Promise<EngineStats> {
    return this.call<EngineStats>(ENGINE_METHODS.stats, []);
  }

  /** A call to the engine; one that the engine's exit cut off says why it stopped, as a run does. */
  private async call<T>(method: string, args: unknown[]): Promise<T> {
    await this.ensure();
    const child = this.child;
    try {
      return await (this.rpc as RpcClient).call<T>(method, args);
    } catch (e) {
      // Cut off by restart() (a cancelled registration), not a crash: another tab's question to
      // the engine (prepare, stats) is asked again of the fresh one. register is not: it was the one stopped.
      if (
        (e as { code?: string })?.code === 'disconnected' &&
        child &&
        this.restarted.has(child) &&
        method !== ENGINE_METHODS.register
      )
        return this.call<T>(method, args);
      if ((e as { code?: string })?.code === 'disconnected')
        throw this.stopped ?? new QuorumError('worker-crashed', (e as Error).message);
      throw e;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    await new Promise<void>((r) => {
      child.onExit(() => r());
      child.stop();
      setTimeout(() => child.kill(), 2000).unref();
    });
  }

  private nextRun = 1;
  /** Engine processes ended on purpose by restart(). */
  private readonly restarted = new WeakSet<EngineProcess>();
}

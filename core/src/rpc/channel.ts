import { ApiError, disconnectedError, toWireError, type WireError } from './errors.ts';

/**
 * One RPC layer for every process boundary: a server that dispatches calls and streams to
 * registered handlers, and a client that makes them, over any message transport (Electron
 * MessagePorts, a WebSocket through the frame codec, Node IPC, an in-memory pair in tests).
 * Modelled on the channel server/client of VS Code's base/parts/ipc.
 *
 * - call: one request, one `result` or `error` reply.
 * - stream: a call whose handler also emits events; the reply resolves the call as above and
 *   the events follow under the same id. A stream that started ends with exactly one final
 *   event (the handler's own, e.g. 'done'; or 'disconnected'); a stream whose call failed has
 *   no events.
 * - cancel: the client asks the server to stop a stream; the handler's cancel listeners run and
 *   the handler ends the stream with its own final event (e.g. 'cancelled' once its run has
 *   stopped; a subscription with no end of its own: 'disconnected').
 * - transport closed: the client rejects every pending call with code 'disconnected' and ends
 *   every open stream with a 'disconnected' event; the server cancels every open stream.
 */

export type RpcMessage =
  | { kind: 'call'; id: number; method: string; args: unknown[] }
  | { kind: 'stream'; id: number; method: string; args: unknown[] }
  | { kind: 'cancel'; id: number }
  | { kind: 'result'; id: number; value: unknown }
  | { kind: 'error'; id: number; error: WireError }
  | { kind: 'event'; id: number; event: unknown; final?: boolean };

/** The final event of a stream that its transport (or a cancel) closed rather than its handler. */
export interface DisconnectedEvent {
  type: 'disconnected';
  message: string;
}

/** A message transport: anything that can send messages, deliver messages and report closing. */
export interface Transport<M = RpcMessage> {
  send(msg: M): void;
  onMessage(listener: (msg: M) => void): void;
  onClose(listener: () => void): void;
}

/** What a stream handler gets besides its arguments. */
export interface StreamSink<E = unknown> {
  /** Sends an event; ignored once the stream has ended. A final event ends the stream. */
  emit(event: E): void;
  /**
   * Runs `listener` when the client cancels or goes away (at once if it already has). After a
   * cancel the handler ends the stream with a final event of its own.
   */
  onCancel(listener: () => void): void;
  readonly ended: boolean;
}

export type CallHandler = (...args: never[]) => unknown;
export type StreamHandler = (args: never, sink: StreamSink<never>) => unknown;

export interface RpcHandlers {
  calls: Record<string, CallHandler>;
  streams: Record<string, StreamHandler>;
  /** Whether a stream event is its stream's last (e.g. 'done', 'cancelled', 'error'). */
  isFinal(event: unknown): boolean;
  /** Called with every failure that is not a user-facing error (a code of 'internal'). */
  onInternalError?(method: string, e: unknown): void;
}

interface OpenStream {
  ended: boolean;
  cancelled: boolean;
  listeners: (() => void)[];
}

const disconnected = (message: string): DisconnectedEvent => ({ type: 'disconnected', message });

/** Serves `handlers` on one transport (one connection) until it closes. */
export class RpcServer {
  private readonly streams = new Map<number, OpenStream>();
  private closed = false;

  constructor(
    private readonly transport: Transport,
    private readonly handlers: RpcHandlers,
  ) {
    transport.onMessage((m) => this.receive(m));
    transport.onClose(() => {
      this.closed = true;
      for (const id of [...this.streams.keys()]) this.cancel(id);
    });
  }

  /** Ends every open stream with a 'disconnected' event (the host is going away). */
  dispose(message = 'The Quorum host is shutting down.'): void {
    for (const [id, s] of [...this.streams]) {
      this.deliver(id, s, disconnected(message));
      this.cancel(id);
    }
  }

  private send(m: RpcMessage) {
    if (!this.closed) this.transport.send(m);
  }

  private receive(m: RpcMessage) {
    if (m.kind === 'call' || m.kind === 'stream') void this.dispatch(m);
    else if (m.kind === 'cancel') this.cancel(m.id, true);
  }

  private async dispatch(m: Extract<RpcMessage, { kind: 'call' | 'stream' }>) {
    const { id, method } = m;
    let stream: OpenStream | undefined;
    try {
      const args = Array.isArray(m.args) ? m.args : [];
      let value: unknown;
      if (m.kind === 'call') {
        const h = Object.hasOwn(this.handlers.calls, method) ? this.handlers.calls[method] : undefined;
        if (!h) throw new ApiError({ code: 'bad-argument', message: `unknown method ${String(method)}` });
        value = await (h as (...a: unknown[]) => unknown)(...args);
      } else {
        const h = Object.hasOwn(this.handlers.streams, method) ? this.handlers.streams[method] : undefined;
        if (!h)
          throw new ApiError({ code: 'bad-argument', message: `unknown streaming method ${String(method)}` });
        const s: OpenStream = { ended: false, cancelled: false, listeners: [] };
        stream = s;
        this.streams.set(id, s);
        const sink: StreamSink = {
          emit: (event) => this.deliver(id, s, event, !this.handlers.isFinal(event)),
          onCancel: (l) => (s.cancelled ? l() : void s.listeners.push(l)),
          get ended() {
            return s.ended;
          },
        };
        value = await (h as (a: unknown[], sink: StreamSink) => unknown)(args, sink);
      }
      this.send({ kind: 'result', id, value: value ?? null });
    } catch (e) {
      // The stream never started: no events, the client drops its listener with the error.
      if (stream) {
        stream.ended = true;
        this.streams.delete(id);
      }
      const error = toWireError(e);
      if (error.code === 'internal') this.handlers.onInternalError?.(method, e);
      this.send({ kind: 'error', id, error });
    }
  }

  /** Sends a stream event; a final one (keepOpen false) ends the stream. */
  private deliver(id: number, s: OpenStream, event: unknown, keepOpen = false) {
    if (s.ended) return;
    if (!keepOpen) {
      s.ended = true;
      this.streams.delete(id);
    }
    this.send(keepOpen ? { kind: 'event', id, event } : { kind: 'event', id, event, final: true });
  }

  private cancel(id: number, fromClient = false) {
    const s = this.streams.get(id);
    if (!s || s.cancelled) return;
    s.cancelled = true;
    for (const l of s.listeners.splice(0)) {
      try {
        l();
      } catch (e) {
        this.handlers.onInternalError?.('cancel', e);
      }
    }
    // Cancelled by the client: the stream stays open until the handler ends it. Gone: nothing
    // more can reach the client, which ended the stream itself.
    if (!fromClient) {
      s.ended = true;
      this.streams.delete(id);
    }
  }
}

export interface RpcClientOptions {
  /** How a WireError is thrown to the caller; default an ApiError. */
  makeError?: (e: WireError) => unknown;
  /** Message of the 'disconnected' error and event. */
  disconnectMessage?: string;
}

export interface StreamCall<T> {
  /** The call's reply (e.g. a run id); rejects if the stream could not start. */
  result: Promise<T>;
  /** Asks the server to stop the stream; it still ends with one final event. */
  cancel(): void;
}

/** Calls and streams over one transport. */
export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  private readonly listeners = new Map<number, (e: unknown) => void>();
  private closedError?: unknown;

  constructor(
    private readonly transport: Transport,
    private readonly opts: RpcClientOptions = {},
  ) {
    transport.onMessage((m) => this.receive(m));
    transport.onClose(() => this.close());
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  call<T = unknown>(method: string, args: unknown[]): Promise<T> {
    return this.request('call', this.nextId++, method, args) as Promise<T>;
  }

  stream<T = unknown, E = unknown>(method: string, args: unknown[], onEvent: (e: E) => void): StreamCall<T> {
    const id = this.nextId++;
    if (!this.closed) this.listeners.set(id, onEvent as (e: unknown) => void);
    const result = this.request('stream', id, method, args) as Promise<T>;
    result.catch(() => this.listeners.delete(id));
    return {
      result,
      cancel: () => {
        if (this.listeners.has(id) && !this.closed) this.transport.send({ kind: 'cancel', id });
      },
    };
  }

  /** Rejects every pending call and ends every open stream with 'disconnected' (idempotent). */
  close(): void {
    if (this.closed) return;
    const message = this.opts.disconnectMessage ?? 'The Quorum host closed the connection.';
    const wire = { code: 'disconnected', message };
    this.closedError = this.opts.makeError ? this.opts.makeError(wire) : disconnectedError(message);
    for (const p of this.pending.values()) p.reject(this.closedError);
    this.pending.clear();
    const open = [...this.listeners.values()];
    this.listeners.clear();
    for (const l of open) l(disconnected(message));
  }

  private request(kind: 'call' | 'stream', id: number, method: string, args: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        this.transport.send({ kind, id, method, args });
      } catch (e) {
        // A transport may refuse a message before it leaves (e.g. over the upload cap).
        this.pending.delete(id);
        reject(e);
      }
    });
  }

  private receive(m: RpcMessage) {
    if (m.kind === 'event') {
      const l = this.listeners.get(m.id);
      if (m.final) this.listeners.delete(m.id);
      l?.(m.event);
      return;
    }
    if (m.kind !== 'result' && m.kind !== 'error') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.kind === 'result') p.resolve(m.value);
    else p.reject(this.opts.makeError ? this.opts.makeError(m.error) : new ApiError(m.error));
  }
}

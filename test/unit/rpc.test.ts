import { describe, expect, it } from 'vitest';
import type { ProposalEvent } from '../../core/src/api.ts';
import { connectSocketApi } from '../../core/src/api-socket.ts';
import { QuorumError } from '../../core/src/errors.ts';
import {
  RpcClient,
  type RpcHandlers,
  type RpcMessage,
  RpcServer,
  type StreamSink,
} from '../../core/src/rpc/channel.ts';
import { ApiError, toWireError } from '../../core/src/rpc/errors.ts';
import { decodeFrame, encodeFrame } from '../../core/src/rpc/frame.ts';
import { createTransportPair } from '../../core/src/rpc/memory.ts';

type Ev =
  | { type: 'tick'; n: number }
  | { type: 'done'; n: number }
  | { type: 'disconnected'; message: string };

/** A server with a plain call, a failing call, a finite stream and an endless subscription. */
function setup(frames = false) {
  const pair = createTransportPair<RpcMessage>({ frames });
  const log: string[] = [];
  const cancelled: string[] = [];
  let subscriber: ((e: Ev) => void) | undefined;
  const handlers: RpcHandlers = {
    calls: {
      add: (a: number, b: number) => a + b,
      slow: () => new Promise(() => {}),
      missing: () => {
        throw new QuorumError('not-found', 'no such file', '/x.nii');
      },
      bug: () => {
        throw new TypeError('x is undefined');
      },
      echo: (v: unknown) => v,
    },
    streams: {
      count: async ([n]: [number], sink: StreamSink<Ev>) => {
        let i = 0;
        const timer = setInterval(() => {
          i++;
          sink.emit(i < n ? { type: 'tick', n: i } : { type: 'done', n: i });
          if (i >= n) clearInterval(timer);
        }, 1);
        sink.onCancel(() => {
          clearInterval(timer);
          cancelled.push('count');
          sink.emit({ type: 'done', n: -1 });
        });
        return { started: n };
      },
      subscribe: async (_args: [], sink: StreamSink<Ev>) => {
        subscriber = (e) => sink.emit(e);
        sink.onCancel(() => {
          subscriber = undefined;
          cancelled.push('subscribe');
          sink.emit({ type: 'disconnected', message: 'unsubscribed' });
        });
        return 'subscribed';
      },
      refuse: async () => {
        throw new QuorumError('bad-argument', 'refused');
      },
    },
    isFinal: (e) => (e as Ev).type === 'done' || (e as Ev).type === 'disconnected',
    onInternalError: (method) => log.push(method),
  };
  const server = new RpcServer(pair.a, handlers);
  const client = new RpcClient(pair.b);
  return { pair, server, client, log, cancelled, push: (e: Ev) => subscriber?.(e) };
}

const collect = () => {
  const events: Ev[] = [];
  let resolveEnd: (e: Ev) => void = () => {};
  const ended = new Promise<Ev>((r) => {
    resolveEnd = r;
  });
  const onEvent = (e: Ev) => {
    events.push(e);
    if (e.type === 'done' || e.type === 'disconnected') resolveEnd(e);
  };
  return { events, ended, onEvent };
};

describe('core/src/rpc over an in-memory transport pair', () => {
  for (const frames of [false, true]) {
    it(`calls a handler and returns its value${frames ? ' (through the frame codec)' : ''}`, async () => {
      const { client } = setup(frames);
      expect(await client.call('add', [2, 3])).toBe(5);
      const v = (await client.call('echo', [{ a: new Float32Array([1.5, 2]) }])) as { a: Float32Array };
      expect(v.a).toBeInstanceOf(Float32Array);
      expect([...v.a]).toEqual([1.5, 2]);
    });
  }

  it('converts thrown errors to one wire shape: code, message and file survive; a bug is internal', async () => {
    const { client, log } = setup(true);
    const e = (await client.call('missing', []).catch((x) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ code: 'not-found', file: '/x.nii', message: '/x.nii: no such file' });
    const bug = (await client.call('bug', []).catch((x) => x)) as ApiError;
    expect(bug).toMatchObject({ code: 'internal', message: 'x is undefined' });
    expect(log).toEqual(['bug']);
    const unknown = (await client.call('nope', []).catch((x) => x)) as ApiError;
    expect(unknown.code).toBe('bad-argument');
    expect(toWireError('plain string')).toEqual({ code: 'internal', message: 'plain string' });
    expect(toWireError(new QuorumError('model', 'm'), 'x')).toEqual({ code: 'model', message: 'm' });
  });

  it('streams events under the call and ends with exactly one final event', async () => {
    const { client } = setup(true);
    const c = collect();
    const s = client.stream<{ started: number }, Ev>('count', [4], c.onEvent);
    expect(await s.result).toEqual({ started: 4 });
    expect(await c.ended).toEqual({ type: 'done', n: 4 });
    await new Promise((r) => setTimeout(r, 20));
    expect(c.events.map((e) => e.type)).toEqual(['tick', 'tick', 'tick', 'done']);
  });

  it('a stream whose call fails rejects and has no events', async () => {
    const { client } = setup();
    const c = collect();
    const e = await client.stream('refuse', [], c.onEvent).result.catch((x: ApiError) => x);
    expect(e).toMatchObject({ code: 'bad-argument', message: 'refused' });
    expect(c.events).toEqual([]);
  });

  it('cancel stops a stream: the handler ends it with its own final event', async () => {
    const { client, cancelled } = setup();
    const c = collect();
    const s = client.stream('count', [1_000_000], c.onEvent);
    await s.result;
    s.cancel();
    expect(await c.ended).toEqual({ type: 'done', n: -1 });
    expect(cancelled).toEqual(['count']);
    expect(c.events.filter((e) => e.type === 'done')).toHaveLength(1);
  });

  it("cancel ends a subscription without an end of its own with one 'disconnected' event", async () => {
    const { client, cancelled, push } = setup();
    const c = collect();
    const s = client.stream('subscribe', [], c.onEvent);
    expect(await s.result).toBe('subscribed');
    push({ type: 'tick', n: 1 });
    s.cancel();
    expect((await c.ended).type).toBe('disconnected');
    push({ type: 'tick', n: 2 }); // dropped: the subscription is gone
    await new Promise((r) => setTimeout(r, 5));
    expect(cancelled).toEqual(['subscribe']);
    expect(c.events.map((e) => e.type)).toEqual(['tick', 'disconnected']);
  });

  it("a closed transport ends every open stream with 'disconnected' and rejects pending calls", async () => {
    const { client, pair, cancelled } = setup(true);
    const a = collect();
    const b = collect();
    const c = collect();
    await client.stream('count', [1_000_000], a.onEvent).result;
    await client.stream('count', [1_000_000], b.onEvent).result;
    await client.stream('subscribe', [], c.onEvent).result;
    const pending = client.call('slow', []);
    pair.close();
    for (const x of [a, b, c]) {
      expect(await x.ended).toEqual({
        type: 'disconnected',
        message: 'The Quorum host closed the connection.',
      });
      expect(x.events.filter((e) => e.type === 'done' || e.type === 'disconnected')).toHaveLength(1);
    }
    await expect(pending).rejects.toMatchObject({ code: 'disconnected' });
    await expect(client.call('add', [1, 1])).rejects.toMatchObject({ code: 'disconnected' });
    // The server side stopped every stream it had open.
    expect(cancelled.sort()).toEqual(['count', 'count', 'subscribe']);
    // A stream started after the close ends at once: it rejects, no events.
    const late = collect();
    await expect(client.stream('count', [2], late.onEvent).result).rejects.toMatchObject({
      code: 'disconnected',
    });
    expect(late.events).toEqual([]);
  });

  it("a server shutting down sends 'disconnected' to every open stream", async () => {
    const { client, server } = setup(true);
    const a = collect();
    await client.stream('subscribe', [], a.onEvent).result;
    server.dispose('bye');
    expect(await a.ended).toEqual({ type: 'disconnected', message: 'bye' });
  });

  it('a message the transport refuses to send (e.g. over the upload cap) rejects that call only', async () => {
    const client = new RpcClient({
      send: () => {
        throw new ApiError({ code: 'too-large', message: 'over the cap' });
      },
      onMessage: () => {},
      onClose: () => {},
    });
    const e = await client.call('openUploaded', []).catch((x) => x);
    expect(e).toMatchObject({ code: 'too-large', message: 'over the cap' });
    const s = await client.stream('count', [], () => {}).result.catch((x: ApiError) => x);
    expect((s as ApiError).code).toBe('too-large');
    expect(client.closed).toBe(false); // the connection itself stays usable
  });
});

describe('QuorumApi over a byte socket (core/src/api-socket.ts)', () => {
  it("streams the last argument's events, keeps voxels binary, and ends an open stream with 'disconnected'", async () => {
    // A fake WebSocket whose far end is an RpcServer reading binary frames.
    const listeners: Record<string, ((ev: { data: unknown }) => void)[]> = {};
    const serverSide: { deliver?: (m: RpcMessage) => void; close?: () => void } = {};
    const socket = {
      binaryType: 'blob',
      readyState: 1,
      send(data: Uint8Array) {
        const copy = data.slice();
        void Promise.resolve().then(() => serverSide.deliver?.(decodeFrame<RpcMessage>(copy)));
      },
      addEventListener(type: string, cb: (ev: { data: unknown }) => void) {
        listeners[type] = [...(listeners[type] ?? []), cb];
      },
    };
    const emitters: ((e: unknown) => void)[] = [];
    new RpcServer(
      {
        send: (m) => {
          const bytes = encodeFrame(m);
          for (const l of listeners.message ?? []) l({ data: bytes.buffer });
        },
        onMessage: (l) => {
          serverSide.deliver = l;
        },
        onClose: (l) => {
          serverSide.close = l;
        },
      },
      {
        calls: { getVolume: () => ({ data: new Int16Array([1, -2, 3]) }) },
        streams: {
          propose: async (_args: [unknown], sink: StreamSink<unknown>) => {
            emitters.push((e) => sink.emit(e));
            return { runId: 'r1' };
          },
        },
        isFinal: (e) => (e as { type: string }).type === 'done',
      },
    );
    const api = await connectSocketApi(socket);
    expect(socket.binaryType).toBe('arraybuffer');
    const v = await api.getVolume('c', 'flair');
    expect(v.data).toBeInstanceOf(Int16Array);
    expect([...v.data]).toEqual([1, -2, 3]);
    const events: ProposalEvent[] = [];
    expect(await api.propose({ caseId: 'c', slices: 'all' }, (e) => events.push(e))).toEqual({ runId: 'r1' });
    emitters[0]({ type: 'started', runId: 'r1', slices: [1], members: 1, steps: 1 });
    await new Promise((r) => setTimeout(r, 5));
    for (const l of listeners.close ?? []) l({ data: undefined });
    serverSide.close?.();
    expect(events.map((e) => e.type)).toEqual(['started', 'disconnected']);
    await expect(api.listRecent()).rejects.toMatchObject({ code: 'disconnected' });
  });
});

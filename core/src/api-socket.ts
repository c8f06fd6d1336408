import { QUORUM_GLOBAL, type QuorumApi, WS_PATH } from './api.ts';
import { createApiClient } from './api-client.ts';
import { RpcClient, type RpcMessage, type Transport } from './rpc/channel.ts';
import { ApiError } from './rpc/errors.ts';
import { decodeFrame, encodeFrame, MAX_UPLOAD_FRAME_BYTES } from './rpc/frame.ts';

/** The subset of WebSocket a client needs (browser WebSocket fits; keeps core free of DOM types). */
export interface ByteSocket {
  binaryType: string;
  send(data: Uint8Array): void;
  addEventListener(type: 'message', cb: (ev: { data: unknown }) => void): void;
  addEventListener(type: 'open' | 'close' | 'error', cb: (ev: unknown) => void): void;
}

/** RPC messages over a byte socket, one binary frame each (core/src/rpc/frame.ts). */
export function socketTransport(socket: ByteSocket): Transport<RpcMessage> {
  socket.binaryType = 'arraybuffer';
  return {
    send: (m) => {
      const frame = encodeFrame(m);
      // The host closes the socket on a frame over its maxPayload; refuse here with a message.
      if (frame.byteLength > MAX_UPLOAD_FRAME_BYTES)
        throw new ApiError({
          code: 'too-large',
          message: `${Math.ceil(frame.byteLength / 2 ** 20)} MiB is more than the ${MAX_UPLOAD_FRAME_BYTES / 2 ** 20} MiB one upload to the Quorum host may carry; open the case from its folder instead.`,
        });
      socket.send(frame);
    },
    onMessage: (l) =>
      socket.addEventListener('message', (ev) => {
        if (ev.data instanceof ArrayBuffer) l(decodeFrame<RpcMessage>(new Uint8Array(ev.data)));
      }),
    onClose: (l) => {
      socket.addEventListener('close', l);
      socket.addEventListener('error', l);
    },
  };
}

/**
 * QuorumApi over a connected byte socket (browser mode). Pending calls reject with
 * 'disconnected' and open streams end with a 'disconnected' event when the socket closes, so the
 * UI never waits forever.
 */
export function createSocketApi(socket: ByteSocket): QuorumApi {
  return createApiClient(new RpcClient(socketTransport(socket)));
}

/**
 * Browser mode: `await connectSocketApi(new WebSocket(`ws://${location.host}${WS_PATH}`))`.
 * Resolves once the socket is open; rejects if it fails to connect.
 */
export function connectSocketApi(socket: ByteSocket & { readyState: number }): Promise<QuorumApi> {
  const api = createSocketApi(socket);
  if (socket.readyState === 1) return Promise.resolve(api);
  return new Promise((resolve, reject) => {
    socket.addEventListener('open', () => resolve(api));
    socket.addEventListener('error', () =>
      reject(new ApiError({ code: 'disconnected', message: 'Cannot reach the Quorum host.' })),
    );
  });
}

/**
 * The renderer's one call to get the API in either mode: Electron's preload global when present,
 * else the browser-mode WebSocket on the page's own host. `await connectQuorumApi(window)`.
 */
export function connectQuorumApi(g: {
  [QUORUM_GLOBAL]?: QuorumApi;
  location: { host: string };
  WebSocket: new (url: string) => ByteSocket & { readyState: number };
}): Promise<QuorumApi> {
  const injected = g[QUORUM_GLOBAL];
  if (injected) return Promise.resolve(injected);
  return connectSocketApi(new g.WebSocket(`ws://${g.location.host}${WS_PATH}`));
}

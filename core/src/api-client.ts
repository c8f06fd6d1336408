import { API_METHODS, type ApiMethod, type QuorumApi, STREAM_METHODS } from './api.ts';
import type { RpcClient } from './rpc/channel.ts';

/**
 * QuorumApi over an RPC client: every method is a call, the STREAM_METHODS are streams whose
 * callback (the last argument) stays on this side. The one client-side adapter, for the browser
 * socket (core/src/api-socket.ts) and Electron's preload alike.
 */
export function createApiClient(client: RpcClient): QuorumApi {
  const streams: readonly ApiMethod[] = STREAM_METHODS;
  const api: Record<string, unknown> = {};
  for (const m of API_METHODS) {
    api[m] = streams.includes(m)
      ? (...args: unknown[]) =>
          client.stream(m, args.slice(0, -1), args.at(-1) as (e: unknown) => void).result
      : (...args: unknown[]) => client.call(m, args);
  }
  return api as unknown as QuorumApi;
}

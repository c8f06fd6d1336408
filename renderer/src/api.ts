import type { QuorumApi } from '../../core/src/api.ts';
import { connectQuorumApi } from '../../core/src/api-socket.ts';

/**
 * The one API object: Electron's preload global (window.quorum) when present, else the
 * browser-mode WebSocket to the host that served this page.
 */
let pending: Promise<QuorumApi> | undefined;

export function getApi(): Promise<QuorumApi> {
  pending ??= connectQuorumApi(window as unknown as Parameters<typeof connectQuorumApi>[0]);
  return pending;
}

/** Errors cross IPC as plain objects in Electron and as ApiError over the socket: read fields only. */
export function errorMessage(e: unknown): string {
  if (e && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}

/**
 * The one error vocabulary of every process boundary (Electron IPC, the browser-mode WebSocket,
 * the engine process): whatever a handler throws crosses as a WireError and is thrown again on
 * the other side as an ApiError with the same code, message and file.
 */

/** Error as it crosses a process boundary. `code` is a QuorumErrorCode, 'internal' or 'disconnected'. */
export interface WireError {
  code: string;
  message: string;
  file?: string;
}

export class ApiError extends Error {
  readonly code: string;
  readonly file?: string;
  constructor(e: WireError) {
    super(e.message);
    this.name = 'ApiError';
    this.code = e.code;
    this.file = e.file;
  }
}

/**
 * Any thrown value as a WireError: a QuorumError or ApiError keeps its code and file; anything
 * else (a bug) is 'internal' (or `fallback`) with its message. The only such conversion: every
 * adapter and the engine use it.
 */
export function toWireError(e: unknown, fallback = 'internal'): WireError {
  if (e && typeof e === 'object') {
    const x = e as { code?: unknown; message?: unknown; file?: unknown };
    const out: WireError = {
      code: typeof x.code === 'string' ? x.code : fallback,
      message: typeof x.message === 'string' ? x.message : String(e),
    };
    if (typeof x.file === 'string') out.file = x.file;
    return out;
  }
  return { code: fallback, message: String(e) };
}

/** The error of every call pending when its transport closes. */
export function disconnectedError(message = 'The Quorum host closed the connection.'): ApiError {
  return new ApiError({ code: 'disconnected', message });
}
